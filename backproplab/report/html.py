"""Small builders for one self-contained HTML page: every figure and formula embedded.

Figures are PNG (or SVG) files or matplotlib Figures, embedded as data URIs; formulas are
rendered by matplotlib's mathtext to SVG paths, so the page needs no server, no script and no
network to show its maths.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import matplotlib.mathtext as mathtext
from matplotlib.font_manager import FontProperties


def esc(text) -> str:
    return html.escape(str(text), quote=True)


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def image(source, alt: str, width: str | None = None, cls: str = "figure") -> str:
    """<img> of a PNG/SVG file path or a matplotlib Figure, embedded."""
    if hasattr(source, "savefig"):
        buf = io.BytesIO()
        source.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        data, mime = buf.getvalue(), "image/png"
    else:
        path = Path(source)
        data = path.read_bytes()
        mime = "image/svg+xml" if path.suffix == ".svg" else "image/png"
    if not data:
        raise ValueError(f"figure {source} is empty")
    style = f' style="max-width:{width}"' if width else ""
    return f'<img class="{cls}" alt="{esc(alt)}" src="{data_uri(data, mime)}"{style}>'


def formula(tex: str, fontsize: int = 15) -> str:
    """A LaTeX (mathtext) formula rendered to an embedded SVG."""
    buf = io.BytesIO()
    mathtext.math_to_image(f"${tex}$", buf, prop=FontProperties(size=fontsize), format="svg")
    return (f'<img class="math" alt="{esc(tex)}" '
            f'src="{data_uri(buf.getvalue(), "image/svg+xml")}">')


def table(headers, rows, cls: str = "") -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _cell(value) -> str:
    return value.html if isinstance(value, Raw) else esc(value)


class Raw(str):
    """Already-escaped HTML to put into a table cell as it is."""

    @property
    def html(self) -> str:
        return str(self)


def section(anchor: str, title: str, *parts: str, level: int = 2) -> str:
    return (f'<section id="{esc(anchor)}"><h{level}>{esc(title)}</h{level}>'
            + "\n".join(parts) + "</section>")


def paragraph(text: str) -> str:
    return f"<p>{esc(text)}</p>"


def code(text: str) -> str:
    return f"<pre><code>{esc(text)}</code></pre>"


CSS = """
:root { --ink:#1d2330; --muted:#5b6474; --line:#dfe3ea; --accent:#2357c6; --good:#1b7f3b;
        --bad:#b3261e; --bg:#fbfbfd; }
* { box-sizing: border-box; }
body { margin:0; font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color:var(--ink); background:var(--bg); }
header.top { background:#111a2e; color:#eef2fb; padding:28px 0 18px; }
header.top h1 { margin:0 0 6px; font-size:28px; }
header.top .meta { color:#b9c3d8; font-size:14px; }
.notice { background:#fff4d6; border:1px solid #e9c46a; padding:10px 14px; border-radius:6px;
          margin:14px 0; color:#5c4300; }
main, .wrap { max-width:1100px; margin:0 auto; padding:0 24px; }
nav.toc { font-size:14px; margin:12px 0 0; }
nav.toc a { color:#c9d6f5; margin-right:14px; text-decoration:none; }
section { margin:34px 0; }
h2 { border-bottom:2px solid var(--line); padding-bottom:6px; margin-top:44px; }
h3 { margin-top:28px; }
p.finding { background:#eef4ff; border-left:4px solid var(--accent); padding:8px 12px;
            border-radius:4px; }
p.quote { color:var(--muted); font-style:italic; border-left:3px solid var(--line);
          padding-left:12px; }
img.figure { max-width:100%; height:auto; border:1px solid var(--line); border-radius:6px;
             background:white; margin:8px 0; }
img.math { height:auto; vertical-align:middle; margin:4px 0; }
.eqs { display:grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap:6px 24px;
       background:white; border:1px solid var(--line); border-radius:6px; padding:12px 16px; }
table { border-collapse:collapse; margin:10px 0; font-size:14px; background:white; }
th, td { border:1px solid var(--line); padding:5px 10px; text-align:right; }
th { background:#f1f3f8; }
td:first-child, th:first-child { text-align:left; }
tr.best td { font-weight:600; background:#f2fbf4; }
table.claims { table-layout:fixed; width:100%; }
table.claims th, table.claims td { text-align:left; vertical-align:top; overflow-wrap:anywhere; }
table.claims td.quote { font-style:italic; color:var(--muted); }
td.verdict { font-weight:700; white-space:nowrap; }
td.verdict.yes { background:#e4f6e8; color:#17692c; }
td.verdict.no { background:#fde8e6; color:#9b1c12; }
td.verdict.mixed { background:#fff4d6; color:#7a5a00; }
td.verdict.na { color:var(--muted); }
pre { background:#0f1522; color:#e2e8f5; padding:12px 14px; border-radius:6px; overflow-x:auto;
      font-size:13px; }
.grid2 { display:grid; grid-template-columns: 1fr 1fr; gap:12px; }
@media (max-width: 800px) { .grid2 { grid-template-columns: 1fr; } }
footer { color:var(--muted); font-size:13px; margin:40px 0; }
"""


def page(title: str, header_html: str, body_html: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title><style>{CSS}</style></head>
<body><header class="top"><div class="wrap">{header_html}</div></header>
<main>{body_html}</main></body></html>
"""
