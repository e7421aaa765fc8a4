"""`reproduce --data-dir` is checked in full before any work: a folder whose MNIST files part II
would refuse fails at once, with part II's own one-line error, before part I trains anything,
before the backend starts and before the output folder is made."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from backproplab import data as idx
from backproplab.cli import main
from backproplab.errors import BackproplabError
from backproplab.report.profiles import PROFILES

pytest.importorskip("torch")  # reproduce needs PyTorch (part II); part II's errors come from it

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "mnist"
TRAIN_IMAGES, TEST_IMAGES = "train-images-idx3-ubyte", "t10k-images-idx3-ubyte"
TRAIN_LABELS, TEST_LABELS = "train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"


def _raw(folder, stem) -> bytes:
    return gzip.decompress((folder / f"{stem}.gz").read_bytes())


def _put(folder, stem, raw: bytes):
    (folder / f"{stem}.gz").write_bytes(gzip.compress(raw, mtime=0))


def _replace(folder, stem, array):
    """Write `array` as the IDX file `stem`, its manifest line right: only the content is off."""
    idx.write_idx(folder / f"{stem}.gz", array)
    manifest = folder / idx.MANIFEST
    lines = [ln for ln in manifest.read_text().splitlines() if not ln.endswith(stem)]
    manifest.write_text("\n".join([*lines, f"{idx.md5_of_idx(array)}  {stem}"]) + "\n")


def _flip_a_pixel(d):
    raw = bytearray(_raw(d, TRAIN_IMAGES))
    raw[-1] ^= 0xFF
    _put(d, TRAIN_IMAGES, bytes(raw))


def _corrupt_deflate(d):
    gz = bytearray((d / f"{TEST_IMAGES}.gz").read_bytes())
    for i in range(len(gz) // 2, len(gz) // 2 + 64):
        gz[i] ^= 0x5A
    (d / f"{TEST_IMAGES}.gz").write_bytes(bytes(gz))


def _truncate_gzip(d):
    gz = (d / f"{TRAIN_IMAGES}.gz").read_bytes()
    (d / f"{TRAIN_IMAGES}.gz").write_bytes(gz[: len(gz) // 2])


def _wrong_magic(d):
    raw = bytearray(_raw(d, TEST_IMAGES))
    raw[2] = 0x0D  # float, not unsigned byte
    _put(d, TEST_IMAGES, bytes(raw))


def _trailing_bytes(d):
    _put(d, TRAIN_IMAGES, _raw(d, TRAIN_IMAGES) + b"\0" * 28)


def _not_28x28(d):
    _replace(d, TEST_IMAGES, np.zeros((200, 14, 14), np.uint8))


def _label_out_of_range(d):
    labels = np.frombuffer(_raw(d, TRAIN_LABELS), np.uint8, offset=8).copy()
    labels[3] = 12
    _replace(d, TRAIN_LABELS, labels)


def _lengths_differ(d):
    labels = np.frombuffer(_raw(d, TEST_LABELS), np.uint8, offset=8)
    _replace(d, TEST_LABELS, labels[:-5].copy())


def _empty_test_split(d):
    _replace(d, TEST_IMAGES, np.zeros((0, 28, 28), np.uint8))
    _replace(d, TEST_LABELS, np.zeros((0,), np.uint8))


CORRUPTIONS = {"a flipped pixel (MD5)": _flip_a_pixel, "corrupt deflate data": _corrupt_deflate,
               "a truncated gzip stream": _truncate_gzip, "wrong magic": _wrong_magic,
               "trailing bytes (size)": _trailing_bytes, "images 14x14": _not_28x28,
               "a label of 12": _label_out_of_range, "5 labels missing": _lengths_differ,
               "an empty test split": _empty_test_split}


def _corrupt(tmp_path, case) -> Path:
    d = tmp_path / "data"
    shutil.copytree(FIXTURE, d)
    CORRUPTIONS[case](d)
    return d


def _part_two_error(d) -> str:
    """What part II itself says of the folder: cnn.data's loading and its empty-split check."""
    from backproplab.cnn.config import DataConfig
    from backproplab.cnn.data import load_tensors

    with pytest.raises(BackproplabError) as exc:
        load_tensors(DataConfig(data_dir=str(d), download=False), progress=False).check_examples()
    return str(exc.value)


@pytest.fixture
def no_work(monkeypatch):
    """Every part, and the backend, fail the test if reached."""
    from backproplab.report import command, parts

    def reached(*a, **k):
        raise AssertionError("work started before the data was checked")

    monkeypatch.setattr(parts, "report_parts", lambda profile: [("figures", reached)])
    monkeypatch.setattr(parts, "study_part", reached)
    monkeypatch.setattr(parts, "cnn_part", reached)
    monkeypatch.setattr(command, "open_backend", reached)


@pytest.mark.parametrize("profile", ["full", "quick"])
@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_a_corrupt_data_dir_fails_before_any_work_with_part_twos_error(
        tmp_path, capsys, no_work, case, profile):
    d = _corrupt(tmp_path, case)
    expected = _part_two_error(d)
    out = tmp_path / "out"
    assert main(["reproduce", "--profile", profile, "--out", str(out), "--data-dir", str(d)]) == 2
    err = capsys.readouterr().err
    assert err == f"backproplab reproduce: error: {expected}\n"
    assert not out.exists()


def test_a_valid_data_dir_passes_the_check_and_the_parts_run(tmp_path, monkeypatch, capsys):
    from backproplab.report import parts

    ran = []
    monkeypatch.setattr(parts, "report_parts",
                        lambda profile: [("figures", lambda out, prof, **k: ran.append(1) or {})])
    out = tmp_path / "out"
    assert main(["reproduce", "--profile", "full", "--out", str(out), "--data-dir",
                 str(FIXTURE)]) == 0, capsys.readouterr().err
    assert ran == [1]
    checked = parts.check_data(PROFILES["full"], FIXTURE)
    assert checked.source.folder == FIXTURE and checked.source.kind == "subset"


def test_the_real_command_refuses_a_corrupt_data_dir_in_seconds(tmp_path):
    """End to end, parts not replaced: part I (about 85 s of the full profile) never starts."""
    d = _corrupt(tmp_path, "a flipped pixel (MD5)")
    out = tmp_path / "out"
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "backproplab", "reproduce", "--profile", "full",
                           "--out", str(out), "--data-dir", str(d), "--jobs", "1"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "fails its MD5 check" in proc.stderr
    assert not out.exists()
    assert time.monotonic() - t0 < 30  # start-up and the check; no study (that is minutes)
