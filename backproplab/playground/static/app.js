// backproplab playground: the page draws what the server computes on the NumPy engine.
// Nothing of the network is computed here: every number comes from a server message.
"use strict";

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                 "#7f7f7f"];
const $ = (id) => document.getElementById(id);
const state = {
  ws: null, config: null, data: null, frame: null, figures: [], limits: {},
  curves: [], seeds: null, playing: false, exportWanted: null, explainNpz: null,
  csvPending: false, frameTimes: [], lastUrlUpdate: 0, pendingPass: 0,
};

// --- arrays from the server: base64 of float32 or uint8 ---------------------------------
function bytes(b64) {
  const s = atob(b64), out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
const f32 = (b64) => new Float32Array(bytes(b64).buffer);
function rgb(hex) { return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)); }
function fmt(v, digits = 4) {
  if (v === null || v === undefined) return "–";
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(2) : v.toFixed(digits);
}

// --- the connection -------------------------------------------------------------------------
function connect() {
  const ws = new WebSocket(`ws://${location.host}/ws`);
  state.ws = ws;
  ws.onmessage = (event) => handle(JSON.parse(event.data));
  ws.onclose = () => showError("The connection to the server closed: is `backproplab playground` still running? Reload to reconnect.");
}
function send(message) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(message));
}
function handle(m) {
  switch (m.type) {
    case "hello": onHello(m); break;
    case "data": onData(m); break;
    case "frame": onFrame(m); break;
    case "explain": onExplain(m); break;
    case "seeds": onSeeds(m); break;
    case "export": onExport(m); break;
    case "busy": $("seeds-result").textContent = m.message; break;
    case "diverged": setPlaying(false); showError(`Training stopped: ${m.message}. Press Reset or change a setting.`); break;
    case "error":
      if (state.csvPending) { state.csvPending = false; showDataError(m.message); }
      else showError(m.message);
      break;
  }
}
function showError(text) { const e = $("error"); e.textContent = text; e.hidden = !text; }
function showDataError(text) { const e = $("data-error"); e.textContent = text; e.hidden = !text; }

// --- settings -------------------------------------------------------------------------------
function onHello(m) {
  state.figures = m.figures; state.limits = m.limits;
  state.choices = m.choices; state.defaults = m.defaults;  // as the server checks them
  const preset = $("preset");
  m.figures.forEach((fig, i) => {
    const group = document.createElement("optgroup");
    group.label = `${fig.name}: ${fig.title}`;
    fig.panels.forEach((panel, j) => {
      const o = document.createElement("option");
      o.value = `${i}/${j}`; o.textContent = `${fig.name}: ${panel.label}`;
      group.appendChild(o);
    });
    preset.appendChild(group);
  });
  $("limits").textContent = `At most ${m.limits.max_hidden_layers} hidden layers of at most ` +
    `${m.limits.max_units} units; at most ${m.limits.max_points} points; ` +
    `${m.max_sessions} tabs train at once.`;
  const fromUrl = readUrl();  // a shared link: its settings, the server's defaults for the rest
  if (fromUrl) send({ type: "config", ...fromUrl.config, pass: fromUrl.pass });
}
function onData(m) {
  state.data = {
    bounds: m.bounds, nClasses: m.n_classes,
    X: f32(m.train.X), y: bytes(m.train.y), Xv: f32(m.heldout.X), yv: bytes(m.heldout.y),
  };
  state.config = m.config; state.curves = []; state.seeds = null; state.frame = null;
  $("seeds-result").textContent = ""; $("seed-caption").textContent = "";
  $("explain-panel").hidden = true;
  showError("");
  if (state.csvPending && m.config.data.source === "custom") { state.csvPending = false; showDataError(""); }
  configToUi(m.config);
  setPlaying(false);
  drawBoundary();
}
function configToUi(c) {
  const src = $("source");
  if (!src.options.length) {
    state.choices.source.forEach((s) => src.add(new Option(s === "custom" ? "own data (CSV, clicks)" : s, s)));
  }
  src.value = c.data.source;
  $("noise").value = c.data.noise; $("points").value = c.data.points;
  $("heldout").value = c.data.heldout; $("data-seed").value = c.data.seed;
  const noiseOff = c.data.source === "custom";
  $("noise").disabled = noiseOff; $("points").disabled = noiseOff;
  const act = $("activation");
  if (!act.options.length) state.choices.activation.forEach((a) => act.add(new Option(a, a)));
  act.value = c.network.activation;
  $("reg-lambda").value = c.network.reg_lambda; $("epsilon").value = c.network.epsilon;
  $("batch-size").value = c.network.batch_size === null ? "" : c.network.batch_size;
  $("momentum").value = c.network.momentum; $("seed").value = c.network.seed;
  const layers = $("layers");
  layers.innerHTML = "";
  c.network.hidden.forEach((w, i) => {
    const row = document.createElement("div");
    row.className = "layer";
    row.innerHTML = `<label>Hidden layer ${i + 1} units <input type="number" min="1" max="64" value="${w}" aria-label="units of hidden layer ${i + 1}"></label>` +
      `<button type="button" aria-label="Remove hidden layer ${i + 1}">&minus;</button>`;
    row.querySelector("input").addEventListener("change", (e) => {
      const n = readInt(e.target, 1, 64); if (n === null) return;
      const hidden = [...state.config.network.hidden]; hidden[i] = n; changeNetwork({ hidden });
    });
    row.querySelector("button").addEventListener("click", () => {
      const hidden = state.config.network.hidden.filter((_, k) => k !== i); changeNetwork({ hidden });
    });
    layers.appendChild(row);
  });
  $("add-layer").disabled = c.network.hidden.length >= (state.limits.max_hidden_layers || 8);
  const cls = $("click-class"), n = c.data.source === "custom" ? (state.limits.max_classes || 8) : state.data.nClasses;
  const keep = cls.value;
  cls.innerHTML = "";
  for (let k = 0; k < n; k++) cls.add(new Option(`class ${k}`, String(k)));
  if (keep && Number(keep) < n) cls.value = keep;
  updateUrl(true);
}
function readInt(input, lo, hi) {
  const v = Number(input.value);
  if (!Number.isInteger(v) || v < lo || v > hi) { showError(`${input.labels[0]?.textContent.trim() || input.id} must be an integer from ${lo} to ${hi}`); return null; }
  return v;
}
function readNumber(input, lo, hi) {
  const v = Number(input.value);
  if (input.value === "" || !Number.isFinite(v) || v < lo || v > hi) { showError(`${input.labels[0]?.textContent.trim() || input.id} must be a number from ${lo} to ${hi}`); return null; }
  return v;
}
function changeData(change) { send({ type: "config", data: { ...state.config.data, ...change }, network: state.config.network }); }
function changeNetwork(change) { send({ type: "config", data: state.config.data, network: { ...state.config.network, ...change } }); }

function wireSettings() {
  $("source").addEventListener("change", (e) => {
    if (e.target.value === "custom" && !state.config.data.extra.length) { showDataError("Upload a CSV or click on the plot to make your own data."); configToUi(state.config); return; }
    changeData({ source: e.target.value, extra: e.target.value === "custom" ? state.config.data.extra : [] });
  });
  const numeric = [["noise", "noise", 0, 5, readNumber], ["points", "points", 10, 5000, readInt],
                   ["heldout", "heldout", 0, 0.9, readNumber], ["data-seed", "seed", 0, 2147483647, readInt]];
  numeric.forEach(([id, key, lo, hi, read]) => $(id).addEventListener("change", (e) => {
    const v = read(e.target, lo, hi); if (v !== null) changeData({ [key]: v });
  }));
  $("regenerate").addEventListener("click", () => changeData({ seed: state.config.data.seed + 1 }));
  $("csv").addEventListener("change", async (e) => {
    const file = e.target.files[0]; if (!file) return;
    if (file.size > (state.limits.max_message || 1048576) - 100) { showDataError(`The file has ${file.size} bytes; at most ${state.limits.max_message} can be uploaded.`); return; }
    state.csvPending = true; showDataError("");
    send({ type: "csv", text: await file.text() });
    e.target.value = "";
  });
  const net = [["reg-lambda", "reg_lambda", 0, 10, readNumber], ["epsilon", "epsilon", 1e-9, 10, readNumber],
               ["momentum", "momentum", 0, 0.99, readNumber], ["seed", "seed", 0, 2147483647, readInt]];
  net.forEach(([id, key, lo, hi, read]) => $(id).addEventListener("change", (e) => {
    const v = read(e.target, lo, hi); if (v !== null) changeNetwork({ [key]: v });
  }));
  $("batch-size").addEventListener("change", (e) => {
    if (e.target.value === "") return changeNetwork({ batch_size: null });
    const v = readInt(e.target, 1, 5000); if (v !== null) changeNetwork({ batch_size: v });
  });
  $("activation").addEventListener("change", (e) => changeNetwork({ activation: e.target.value }));
  $("add-layer").addEventListener("click", () => {
    const h = state.config.network.hidden; changeNetwork({ hidden: [...h, h.length ? h[h.length - 1] : 3] });
  });
  $("preset").addEventListener("change", (e) => {
    if (!e.target.value) return;
    const [i, j] = e.target.value.split("/").map(Number), fig = state.figures[i], panel = fig.panels[j];
    $("preset-claim").textContent = `The problem set: “${fig.claim}”`;
    send({ type: "config", data: panel.data, network: panel.network });
  });
  $("boundary").addEventListener("click", (e) => {
    if (!state.data) return;
    const c = e.target, r = c.getBoundingClientRect(), [x0, x1, y0, y1] = state.data.bounds;
    const x = x0 + ((e.clientX - r.left) / r.width) * (x1 - x0);
    const y = y1 - ((e.clientY - r.top) / r.height) * (y1 - y0);
    send({ type: "add_point", x1: x, x2: y, label: Number($("click-class").value || 0) });
  });
}

// --- training controls ----------------------------------------------------------------------
function setPlaying(on) {
  state.playing = on;
  const b = $("play");
  b.innerHTML = on ? "&#x23F8; Pause" : "&#x25B6; Play";
  b.setAttribute("aria-label", on ? "Pause" : "Play");
}
function togglePlay() { if (state.playing) { send({ type: "pause" }); setPlaying(false); } else { showError(""); send({ type: "play" }); setPlaying(true); } }
function step() { if (state.playing) { send({ type: "pause" }); setPlaying(false); } send({ type: "step", passes: 1 }); }
function reset() { send({ type: "reset" }); }
function explain() { if (state.playing) { send({ type: "pause" }); setPlaying(false); } send({ type: "explain" }); }
function wireControls() {
  $("play").addEventListener("click", togglePlay);
  $("step").addEventListener("click", step);
  $("reset").addEventListener("click", reset);
  $("explain").addEventListener("click", explain);
  $("seeds").addEventListener("click", () => { if (state.playing) { send({ type: "pause" }); setPlaying(false); } send({ type: "seeds", count: 5 }); });
  $("explain-close").addEventListener("click", () => { $("explain-panel").hidden = true; });
  $("explain-download").addEventListener("click", () => state.explainNpz && download(`explain-pass-${state.frame ? state.frame.pass : 0}.npz`, bytes(state.explainNpz), "application/octet-stream"));
  $("copy-link").addEventListener("click", async () => {
    updateUrl(true);
    try { await navigator.clipboard.writeText(location.href); $("copy-link").textContent = "Link copied"; }
    catch { prompt("Copy this link:", location.href); }
    setTimeout(() => { $("copy-link").textContent = "Copy link"; }, 1500);
  });
  ["npz", "json", "py"].forEach((kind) => $(`export-${kind}`).addEventListener("click", () => { state.exportWanted = kind; send({ type: "export" }); }));
  $("export-png").addEventListener("click", exportPng);
  document.addEventListener("keydown", (e) => {
    if (e.target.closest("input, select, textarea") || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === " ") { e.preventDefault(); togglePlay(); }
    else if (e.key === "s" || e.key === "S" || e.key === "ArrowRight") { e.preventDefault(); step(); }
    else if (e.key === "r" || e.key === "R") reset();
    else if (e.key === "e" || e.key === "E") explain();
  });
}

// --- live views -----------------------------------------------------------------------------
function onFrame(f) {
  state.frame = f;
  if (!f.playing && state.playing) setPlaying(false);
  const now = performance.now();
  state.frameTimes.push(now);
  while (state.frameTimes.length && now - state.frameTimes[0] > 1000) state.frameTimes.shift();
  $("fps").textContent = f.playing ? state.frameTimes.length : 0;
  $("pass").textContent = f.pass; $("rate").textContent = Math.round(f.passes_per_s);
  $("train-loss").textContent = fmt(f.train_loss); $("train-acc").textContent = fmt(f.train_accuracy, 3);
  $("heldout-loss").textContent = fmt(f.heldout_loss); $("heldout-acc").textContent = fmt(f.heldout_accuracy, 3);
  const last = state.curves[state.curves.length - 1];
  if (!last || last.pass < f.pass) state.curves.push({ pass: f.pass, tl: f.train_loss, hl: f.heldout_loss, ta: f.train_accuracy, ha: f.heldout_accuracy });
  if (state.curves.length > 1500) state.curves = state.curves.filter((_, i) => i % 2 === 0 || i === state.curves.length - 1);
  drawBoundary(); drawDiagram(); drawCurves(); drawConfusion(); drawGradNorms(); drawWarnings();
  updateUrl(!f.playing);
}

function regionImage(classes, confidence, size) {
  const img = new ImageData(size, size);
  const cols = PALETTE.map(rgb);
  for (let i = 0; i < size * size; i++) {
    const c = cols[classes[i] % cols.length], a = confidence ? 0.25 + 0.5 * (confidence[i] / 255) : 0.5;
    for (let k = 0; k < 3; k++) img.data[4 * i + k] = Math.round(255 * (1 - a) + c[k] * a);
    img.data[4 * i + 3] = 255;
  }
  const off = document.createElement("canvas");
  off.width = off.height = size;
  off.getContext("2d").putImageData(img, 0, 0);
  return off;
}
function drawBoundary() {
  const c = $("boundary"), g = c.getContext("2d"), W = c.width, H = c.height, d = state.data;
  g.fillStyle = "#fff"; g.fillRect(0, 0, W, H);
  if (!d) return;
  const f = state.frame;
  if (f) {
    g.imageSmoothingEnabled = true;
    g.drawImage(regionImage(bytes(f.grid.classes), bytes(f.grid.confidence), f.grid.size), 0, 0, W, H);
  }
  if (state.seeds) drawSeedOutlines(g, W, H);
  const [x0, x1, y0, y1] = d.bounds;
  const px = (x) => ((x - x0) / (x1 - x0)) * W, py = (y) => ((y1 - y) / (y1 - y0)) * H;
  for (let i = 0; i < d.yv.length; i++) {
    g.beginPath(); g.arc(px(d.Xv[2 * i]), py(d.Xv[2 * i + 1]), 3.2, 0, 2 * Math.PI);
    g.strokeStyle = PALETTE[d.yv[i] % 8]; g.lineWidth = 1.6; g.stroke();
  }
  for (let i = 0; i < d.y.length; i++) {
    g.beginPath(); g.arc(px(d.X[2 * i]), py(d.X[2 * i + 1]), 3.6, 0, 2 * Math.PI);
    g.fillStyle = PALETTE[d.y[i] % 8]; g.fill(); g.strokeStyle = "#111"; g.lineWidth = 0.7; g.stroke();
  }
}
function drawSeedOutlines(g, W, H) {
  // shading where the seeds disagree, and each other seed's boundary as a thin line
  const s = state.seeds, n = s.size, cw = W / n, ch = H / n, all = s.classes.map(bytes);
  g.fillStyle = "rgba(0,0,0,0.18)";
  for (let i = 0; i < n * n; i++) if (all.some((c) => c[i] !== all[0][i])) g.fillRect((i % n) * cw, Math.floor(i / n) * ch, cw + 0.5, ch + 0.5);
  all.forEach((c, k) => {
    if (k === 0) return;
    g.strokeStyle = `hsla(${(k * 67) % 360},60%,25%,0.9)`; g.lineWidth = 1.2; g.beginPath();
    for (let r = 0; r < n; r++) for (let q = 0; q < n; q++) {
      const i = r * n + q;
      if (q + 1 < n && c[i] !== c[i + 1]) { g.moveTo((q + 1) * cw, r * ch); g.lineTo((q + 1) * cw, (r + 1) * ch); }
      if (r + 1 < n && c[i] !== c[i + n]) { g.moveTo(q * cw, (r + 1) * ch); g.lineTo((q + 1) * cw, (r + 1) * ch); }
    }
    g.stroke();
  });
}

function unitImage(values, size, unit) {
  const img = new ImageData(size, size), off = document.createElement("canvas");
  const pos = rgb("#1f77b4"), neg = rgb("#ff7f0e");
  for (let i = 0; i < size * size; i++) {
    const v = values[unit * size * size + i] / 127.5 - 1, c = v >= 0 ? pos : neg, a = Math.abs(v);
    for (let k = 0; k < 3; k++) img.data[4 * i + k] = Math.round(255 * (1 - a) + c[k] * a);
    img.data[4 * i + 3] = 255;
  }
  off.width = off.height = size; off.getContext("2d").putImageData(img, 0, 0);
  return off;
}
function drawDiagram() {
  const c = $("diagram"), g = c.getContext("2d"), W = c.width, H = c.height, f = state.frame;
  g.fillStyle = "#fff"; g.fillRect(0, 0, W, H);
  if (!f || !state.config) return;
  const dims = [2, ...state.config.network.hidden, state.data.nClasses], L = dims.length;
  const colX = (l) => 44 + (l * (W - 80)) / (L - 1);
  const box = (d) => Math.max(4, Math.min(34, (H - 24) / d - 4));
  const nodeY = (l, i) => { const b = box(dims[l]), total = dims[l] * (b + 4); return (H - total) / 2 + i * (b + 4) + b / 2; };
  for (let l = 0; l < L - 1; l++) {
    const Wl = f32(f.weights[l]), din = dims[l], dout = dims[l + 1];
    let max = 1e-9; for (const w of Wl) max = Math.max(max, Math.abs(w));
    for (let i = 0; i < din; i++) for (let j = 0; j < dout; j++) {
      const w = Wl[i * dout + j], a = Math.abs(w) / max;
      if (a < 0.02) continue;
      g.strokeStyle = w >= 0 ? `rgba(31,119,180,${0.15 + 0.7 * a})` : `rgba(255,127,14,${0.15 + 0.7 * a})`;
      g.lineWidth = 0.4 + 3.2 * a;
      g.beginPath(); g.moveTo(colX(l) + box(din) / 2, nodeY(l, i)); g.lineTo(colX(l + 1) - box(dout) / 2, nodeY(l + 1, j)); g.stroke();
    }
  }
  for (let l = 0; l < L; l++) {
    const b = box(dims[l]);
    for (let i = 0; i < dims[l]; i++) {
      const x = colX(l) - b / 2, y = nodeY(l, i) - b / 2;
      if (l === 0) {
        const grad = g.createLinearGradient(x, y + (i ? b : 0), x + (i ? 0 : b), y);
        grad.addColorStop(0, "#ff7f0e"); grad.addColorStop(0.5, "#fff"); grad.addColorStop(1, "#1f77b4");
        g.fillStyle = grad; g.fillRect(x, y, b, b);
        g.fillStyle = "#333"; g.font = "11px sans-serif"; g.fillText(`x${i + 1}`, x - 16, y + b / 2 + 4);
      } else if (l === L - 1) {
        g.fillStyle = PALETTE[i % 8]; g.fillRect(x, y, b, b);
      } else {
        const layer = f.units.layers[l - 1];
        g.imageSmoothingEnabled = true;
        g.drawImage(unitImage(bytes(layer.values), f.units.size, i), x, y, b, b);
      }
      g.strokeStyle = "#555"; g.lineWidth = 0.8; g.setLineDash([]);
      if (l > 0 && l < L - 1) {
        if (f.dead[l - 1][i]) { g.strokeStyle = "#c0392b"; g.lineWidth = 2; g.beginPath(); g.moveTo(x, y); g.lineTo(x + b, y + b); g.moveTo(x + b, y); g.lineTo(x, y + b); g.stroke(); }
        else if (f.saturated[l - 1][i] >= 0.9) { g.strokeStyle = "#8a4b00"; g.lineWidth = 2; g.setLineDash([3, 2]); }
      }
      g.strokeRect(x, y, b, b); g.setLineDash([]);
    }
  }
  g.fillStyle = "#666"; g.font = "11px sans-serif";
  for (let l = 0; l < L; l++) g.fillText(l === 0 ? "input" : l === L - 1 ? "softmax" : `${state.config.network.activation}`, colX(l) - 16, H - 4);
}
function drawCurve(canvas, series, yMax, label) {
  const g = canvas.getContext("2d"), W = canvas.width, H = canvas.height, pts = state.curves;
  g.fillStyle = "#fff"; g.fillRect(0, 0, W, H);
  g.fillStyle = "#666"; g.font = "11px sans-serif"; g.fillText(label, 6, 12);
  if (pts.length < 1) return;
  const maxPass = Math.max(1, pts[pts.length - 1].pass), top = 18, bottom = H - 16, left = 34, right = W - 6;
  let hi = yMax; if (hi === null) { hi = 1e-9; for (const p of pts) for (const [k] of series) if (p[k] != null) hi = Math.max(hi, p[k]); }
  g.strokeStyle = "#ddd"; g.beginPath(); g.moveTo(left, top); g.lineTo(left, bottom); g.lineTo(right, bottom); g.stroke();
  // passes on a log scale: the first hundred passes, where most happens, stay visible
  const xOf = (pass) => left + (Math.log1p(pass) / Math.log1p(maxPass)) * (right - left);
  g.fillText(fmt(hi, 2), 2, top + 4); g.fillText("0", 20, bottom);
  g.fillText("1", xOf(1) - 3, H - 3); g.fillText(`pass ${maxPass} (log scale)`, right - 130, H - 3);
  for (const [k, color, dash] of series) {
    g.strokeStyle = color; g.lineWidth = 1.6; g.setLineDash(dash); g.beginPath();
    let started = false;
    for (const p of pts) {
      if (p[k] == null) continue;
      const x = xOf(p.pass), y = bottom - (Math.min(p[k], hi) / hi) * (bottom - top);
      if (started) g.lineTo(x, y); else { g.moveTo(x, y); started = true; }
    }
    g.stroke(); g.setLineDash([]);
  }
}
function drawCurves() {
  drawCurve($("loss-curve"), [["tl", "#1f77b4", []], ["hl", "#d62728", [5, 3]]], null, "loss: train (solid), held-out (dashed)");
  drawCurve($("acc-curve"), [["ta", "#1f77b4", []], ["ha", "#d62728", [5, 3]]], 1, "accuracy");
}
function drawConfusion() {
  const f = state.frame, held = f.confusion.heldout, m = held || f.confusion.train;
  $("confusion-which").textContent = held ? "(held-out points; rows: true class, columns: predicted)" : "(training points)";
  let html = "<tr><th></th>" + m.map((_, j) => `<th>${j}</th>`).join("") + "</tr>";
  m.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    html += `<tr><th>${i}</th>` + row.map((v, j) => `<td style="background:rgba(${i === j ? "31,119,180" : "214,39,40"},${(0.6 * v) / total})">${v}</td>`).join("") + "</tr>";
  });
  $("confusion").innerHTML = html;
}
function drawGradNorms() {
  const norms = state.frame.grad_norm, logs = norms.map((v) => Math.log10(Math.max(v, 1e-12)));
  const lo = Math.min(...logs, -6), hi = Math.max(...logs, 0);
  $("grad-norms").innerHTML = norms.map((v, l) => `<div class="bar"><span>W[${l}]</span><span class="fill" style="width:${4 + (150 * (logs[l] - lo)) / Math.max(hi - lo, 1e-9)}px"></span><span>${fmt(v)}</span></div>`).join("") +
    '<p class="note">‖dL/dW‖ of the mean training loss, log scale: a bar shrinking toward the input is a vanishing gradient.</p>';
}
function drawWarnings() {
  $("warnings").innerHTML = state.frame.warnings.map((w) => `<li>${w.replace(/&/g, "&amp;").replace(/</g, "&lt;")}</li>`).join("");
}

// --- explain, seeds, export ----------------------------------------------------------------
function matrix(a) {
  const rows = Array.isArray(a.values[0]) ? a.values : [a.values];
  const body = rows.map((r) => "<tr>" + r.map((v) => `<td>${fmt(v, 4)}</td>`).join("") + "</tr>").join("");
  return `<table class="matrix">${body}</table>${a.truncated ? '<span class="note">… (truncated; all values in the download)</span>' : ""}`;
}
function onExplain(m) {
  state.explainNpz = m.npz;
  const ok = (e) => `<span class="${e < 1e-6 ? "ok" : "fail"}">${e.toExponential(2)}</span>`;
  let html = `<p>Pass ${m.pass}: the next gradient step on all ${m.n} training points, loss ${fmt(m.loss)}. ` +
    `Forward: z[l] = a[l] W[l] + b[l], a[l+1] = ${m.activation}(z[l]) (softmax at the output). Backward: ` +
    `Δ = probs − onehot(y) at the output, then Δ[l−1] = Δ[l] W[l]ᵀ ⊙ f′(z[l−1]); dW[l] = a[l]ᵀ Δ[l] + λ W[l] (λ = ${m.reg_lambda}), ` +
    `db[l] = Σ Δ[l]. Update: W[l] += −ε dW[l] (ε = ${m.epsilon}).</p>` +
    `<p>Gradient check (central differences on ${m.gradcheck_examples} examples): largest relative error ${ok(m.gradcheck_max)} (below 1e-6 means backpropagation agrees).</p>` +
    m.notes.map((n) => `<p class="note">${n}</p>`).join("");
  for (const layer of m.layers) {
    html += `<h3>Layer ${layer.layer}: input ${layer.input} (${layer.input_shape.join("×")}) · gradient check W[${layer.layer}] ${ok(layer.gradcheck.W)}, b[${layer.layer}] ${ok(layer.gradcheck.b)}</h3><div class="arrays">`;
    for (const [name, a] of Object.entries(layer.arrays)) html += `<div><strong>${name}</strong> <span class="note">(${a.shape.join("×")})</span>${matrix(a)}</div>`;
    html += "</div>";
  }
  $("explain-body").innerHTML = html;
  $("explain-panel").hidden = false;
  $("explain-panel").scrollIntoView({ behavior: "smooth", block: "start" });
}
function onSeeds(m) {
  state.seeds = m;
  const acc = m.heldout_accuracy.map((v, i) => `seed ${m.seeds[i]}: ${v === null ? "–" : v.toFixed(3)}`).join(", ");
  $("seeds-result").textContent = (m.heldout_mean === null ? "" : `Held-out accuracy over ${m.seeds.length} seeds after ${m.passes} passes: ${m.heldout_mean.toFixed(3)} ± ${m.heldout_std.toFixed(3)}. `) +
    `${acc}. The seeds disagree on ${(100 * m.disagreement).toFixed(1)}% of the plane.`;
  $("seed-caption").textContent = "Lines: the other seeds' boundaries; grey: where the seeds disagree.";
  drawBoundary();
}
function download(name, data, type) {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const a = document.createElement("a"); a.href = url; a.download = name; document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
function onExport(m) {
  const kind = state.exportWanted; state.exportWanted = null;
  if (kind === "npz") download("playground-model.npz", bytes(m.npz), "application/octet-stream");
  else if (kind === "json") download("playground-model.json", m.json, "application/json");
  else if (kind === "py") download("playground_run.py", m.snippet, "text/x-python");
}
function exportPng() {
  const a = $("boundary"), b = $("diagram"), out = document.createElement("canvas");
  out.width = a.width + b.width + 30; out.height = Math.max(a.height, b.height) + 20;
  const g = out.getContext("2d"); g.fillStyle = "#fff"; g.fillRect(0, 0, out.width, out.height);
  g.drawImage(a, 10, 10); g.drawImage(b, a.width + 20, 10);
  out.toBlob((blob) => download(`playground-pass-${state.frame ? state.frame.pass : 0}.png`, blob, "image/png"));
}

// --- the URL holds the state ----------------------------------------------------------------
function updateUrl(force) {
  const now = performance.now();
  if (!state.config || (!force && now - state.lastUrlUpdate < 1000)) return;
  state.lastUrlUpdate = now;
  const d = state.config.data, n = state.config.network, p = new URLSearchParams();
  p.set("data", d.source); p.set("noise", d.noise); p.set("points", d.points); p.set("heldout", d.heldout); p.set("dseed", d.seed);
  if (d.extra.length) p.set("extra", JSON.stringify(d.extra.map((q) => [+q[0].toPrecision(17), +q[1].toPrecision(17), q[2]])));
  p.set("hidden", n.hidden.join(",")); p.set("activation", n.activation); p.set("lambda", n.reg_lambda);
  p.set("lr", n.epsilon); p.set("batch", n.batch_size === null ? "full" : n.batch_size); p.set("momentum", n.momentum);
  p.set("seed", n.seed); p.set("pass", state.frame ? state.frame.pass : 0);
  history.replaceState(null, "", "#" + p.toString());
}
function readUrl() {
  if (location.hash.length < 2) return null;
  const p = new URLSearchParams(location.hash.slice(1)), num = (k, dflt) => (p.has(k) ? Number(p.get(k)) : dflt);
  let extra = [];
  try { extra = p.has("extra") ? JSON.parse(p.get("extra")) : []; } catch { showError("The link's extra points are not readable; they are left out."); }
  const d = state.defaults.data, n = state.defaults.network;
  const hidden = p.has("hidden") ? (p.get("hidden") === "" ? [] : p.get("hidden").split(",").map(Number)) : n.hidden;
  return {
    pass: num("pass", 0),
    config: {
      data: { source: p.get("data") || d.source, noise: num("noise", d.noise), points: num("points", d.points), heldout: num("heldout", d.heldout), seed: num("dseed", d.seed), extra },
      network: { hidden, activation: p.get("activation") || n.activation, reg_lambda: num("lambda", n.reg_lambda), epsilon: num("lr", n.epsilon),
                 batch_size: !p.has("batch") || p.get("batch") === "full" ? n.batch_size : Number(p.get("batch")), momentum: num("momentum", n.momentum), seed: num("seed", n.seed) },
    },
  };
}

wireSettings();
wireControls();
connect();
