"""Files that are not ours are never written over, and a folder is written by one process."""

import os
import subprocess
import sys
import textwrap

import pytest

from backproplab import io
from backproplab.cli import main
from backproplab.errors import BackproplabError


def _fifo(path):
    os.mkfifo(path)


def _symlink_elsewhere(path):
    target = path.parent.parent / f"{path.name}-elsewhere.txt"
    target.write_text("someone else's")
    path.symlink_to(target)


def _folder(path):
    path.mkdir()


def _device(path):
    try:
        os.mknod(path, 0o666 | 0o020000, os.makedev(1, 3))  # a character device, as /dev/null
    except PermissionError:
        pytest.skip("creating a device needs CAP_MKNOD")


NOT_REGULAR = {"fifo": _fifo, "symlink to elsewhere": _symlink_elsewhere, "folder": _folder,
               "character device": _device}


def _snapshot(path):
    st = os.lstat(path)
    return st.st_mode, st.st_ino, (os.readlink(path) if os.path.islink(path) else None)


@pytest.mark.parametrize("kind", NOT_REGULAR)
@pytest.mark.parametrize("how", ["atomic write", "check_new_file --overwrite", "train --out"])
def test_only_a_regular_file_is_ever_replaced(tmp_path, kind, how, capsys):
    (tmp_path / "out").mkdir()
    path = tmp_path / "out" / "figure.png"
    NOT_REGULAR[kind](path)
    before = _snapshot(path)
    if how == "train --out":
        assert main(["train", "--out", path, "--overwrite", "--passes", "1"]) == 2
        assert "not a regular file" in capsys.readouterr().err
    else:
        with pytest.raises(BackproplabError, match="not a regular file"):
            if how == "atomic write":
                io.write_text(path, "x")
            else:
                io.check_new_file(path, overwrite=True)
    assert _snapshot(path) == before
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["figure.png"]


def test_a_regular_file_is_replaced_when_asked(tmp_path):
    path = io.write_text(tmp_path / "a.txt", "old")
    io.check_new_file(path, overwrite=True)
    assert io.write_text(path, "new").read_text() == "new"


def test_temporaries_of_dead_processes_are_removed_by_the_next_write(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = tmp_path / f".fig.png.{dead}.k2j4h5g6.tmp"  # a Ctrl-C'd write, process gone
    live = tmp_path / f".fig.png.{os.getppid()}.a1b2c3d4.tmp"  # a write in progress elsewhere
    other = tmp_path / f".other.png.{dead}.a1b2c3d4.tmp"  # another file's: its own write sweeps
    for p in (stale, live, other):
        p.write_text("partial")
    io.write_text(tmp_path / "fig.png", "done")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["fig.png", live.name, other.name])


# Temporaries that earlier versions' atomic writes left (.NAME.RANDOM.SUFFIX, no pid), and
# look-alikes: name -> removed by the next write of fig.png in a folder backproplab owns?
LEGACY = {
    ".fig.png.k2j4h5g6.png": True,  # tempfile's 8 characters, fig.png's suffix
    ".fig.png.a_1b2c3d.png": True,
    ".other.png.k2j4h5g6.png": False,  # another file's: its own write sweeps it
    ".fig.png.k2j4h5.png": False,  # 6 characters: not tempfile's
    ".fig.png.K2J4H5G6.png": False,  # capitals: not tempfile's alphabet
    ".fig.png.k2j4h5g6.svg": False,  # another suffix than fig.png's
    "fig.png.k2j4h5g6.png": False,  # no leading dot
    ".fig.png.k2j4h5g6.png.bak": False,
}


def _owned_folder(tmp_path):
    job = io.RunFolder(tmp_path / "job", "job.json", kind="job")
    job.open({"plan": 1})
    (tmp_path / "job" / "figures").mkdir()
    return job


@pytest.mark.parametrize("where", ["the job's folder", "a folder inside it"])
@pytest.mark.parametrize("name", list(LEGACY))
def test_earlier_versions_temporaries_are_removed_in_a_folder_backproplab_owns(
        tmp_path, name, where):
    job = _owned_folder(tmp_path)
    folder = job.path if where == "the job's folder" else job.path / "figures"
    (folder / name).write_bytes(b"partial")
    io.write_bytes(folder / "fig.png", b"done")
    assert (folder / name).exists() is not LEGACY[name]
    assert (folder / "fig.png").read_bytes() == b"done"
    job.close()


@pytest.mark.parametrize("kind", ["a folder", "a symbolic link"])
def test_an_earlier_temporarys_name_on_something_not_a_regular_file_is_left(tmp_path, kind):
    job = _owned_folder(tmp_path)
    target = job.path / ".fig.png.k2j4h5g6.png"
    if kind == "a folder":
        target.mkdir()
    else:
        (tmp_path / "elsewhere.png").write_bytes(b"someone else's")
        target.symlink_to(tmp_path / "elsewhere.png")
    io.write_bytes(job.path / "fig.png", b"done")
    assert os.path.lexists(target) and (tmp_path / "job").is_dir()
    if kind == "a symbolic link":
        assert (tmp_path / "elsewhere.png").read_bytes() == b"someone else's"
    job.close()


def test_earlier_versions_temporaries_are_left_in_a_folder_not_backproplabs(tmp_path):
    """A user's folder (no job's lock in it or above it): such a name may be another
    program's, and nothing says whose it is."""
    (tmp_path / ".fig.png.k2j4h5g6.png").write_bytes(b"someone else's")
    io.write_bytes(tmp_path / "fig.png", b"done")
    assert (tmp_path / ".fig.png.k2j4h5g6.png").read_bytes() == b"someone else's"


def test_a_resumed_study_removes_the_temporaries_an_earlier_version_left(tmp_path):
    """End to end: a study's figure written again on resume sweeps the earlier temporary."""
    out = tmp_path / "study"
    argv = ["study", "moons-activations", "--seeds", "1", "--passes", "200", "--out", str(out),
            "--jobs", "1"]
    assert main(argv) == 0
    figures = sorted(p for p in out.rglob("*.png"))
    assert figures
    stale = [f.parent / f".{f.name}.k2j4h5g6.png" for f in figures]
    for f, t in zip(figures, stale):
        t.write_bytes(b"partial")
        f.unlink()  # as if the write had been interrupted
    assert main(argv) == 0
    assert all(f.exists() for f in figures) and not any(t.exists() for t in stale)


HOLD = textwrap.dedent("""
    import sys, time
    from backproplab.io import RunFolder
    RunFolder(sys.argv[1], "job.json", kind="job").open({"plan": 1})
    print("held", flush=True)
    time.sleep(60)
""")


def _holder(path):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_folder_in_use_by_another_process_is_refused_naming_it(tmp_path):
    proc = _holder(tmp_path / "job")
    try:
        for overwrite in (False, True):
            with pytest.raises(BackproplabError,
                               match=rf"in use by another backproplab process \(pid {proc.pid} "
                                     r"on .*, running .* since \d{4}-"):
                io.RunFolder(tmp_path / "job", "job.json", kind="job").open(
                    {"plan": 2}, overwrite=overwrite)
    finally:
        proc.kill()
        proc.wait()
    # the holder died: its lock went with it, and the folder is taken
    folder = io.RunFolder(tmp_path / "job", "job.json", kind="job")
    assert folder.open({"plan": 1}) is not None
    folder.close()


def test_the_lock_is_not_content_and_overwrite_leaves_it(tmp_path):
    folder = io.RunFolder(tmp_path, "job.json", kind="job", owned=("*",))
    folder.lock()
    folder.close()
    assert io.claim_folder(tmp_path, "other.json") is None  # only the lock: an empty folder
    folder.open({"plan": 1})
    folder.open({"plan": 2}, overwrite=True)  # the same process goes on holding it
    assert (tmp_path / io.LOCK).is_file()
    folder.close()


@pytest.mark.parametrize("marker", ['{"plan": []}', '{"plan": 3}', '{"plan": "x"}'])
def test_a_marker_whose_identity_is_not_the_shape_written_is_refused(tmp_path, marker):
    (tmp_path / "job.json").write_text(marker)
    with pytest.raises(BackproplabError, match="job.json' is not a job.json backproplab wrote"):
        io.RunFolder(tmp_path, "job.json", kind="job").open(
            {"plan": {"seeds": 1}}, describe=lambda m: m["plan"].get("name"))
