"""Files written by backproplab are written atomically, and nothing is overwritten unasked.

`RunFolder` is the one resumable output folder of every job (a study, a CNN run, a comparison's
runs, reproduce): a JSON marker says the folder is backproplab's and which job it holds (its
identity), with the versions that wrote it; `open` claims the folder and applies the resume
policy, so that a rerun continues only the same job and nothing else is ever written over.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import fnmatch
import json
import os
import platform
import re
import socket
import stat
import sys
import tempfile
import time
from importlib import metadata
from io import StringIO
from pathlib import Path

from backproplab import __version__
from backproplab.errors import BackproplabError

_UMASK = os.umask(0o022)  # read once, at import (setting it is process-wide), then restored
os.umask(_UMASK)

LOCK = ".backproplab.lock"  # in a run folder: held (flock) by the process writing into it
# A temporary of atomic_path: .NAME.PID.RANDOM.tmp, so that one left by a killed process is
# recognised as ours (and as stale: its process is gone) and removed by the next write of NAME.
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+\.tmp$")
# Earlier versions named a temporary .NAME.RANDOM.SUFFIX (tempfile's 8 characters, then NAME's
# own suffix: .fig.png.k2j4h5g6.png). It names no process, so it is removed only in a folder
# backproplab owns (see _owned) and only by a write of NAME; this version never makes one.
_LEGACY_RANDOM = "[a-z0-9_]{8}"  # tempfile's alphabet and length


def file_kind(path: str | os.PathLike) -> str | None:
    """What is at `path` without following a link: None (nothing), "a regular file", "a
    symbolic link", "a folder", "a FIFO", "a character device", ..."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    for test, kind in ((stat.S_ISREG, "a regular file"), (stat.S_ISLNK, "a symbolic link"),
                       (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "a special file"


def check_regular_file(path: str | os.PathLike, what: str = "file") -> Path:
    """Refuse to read `path` unless it is (or links to) a regular file: a FIFO blocked the read
    forever, a device (/dev/zero) never ends."""
    kind = file_kind(os.path.realpath(path))
    if kind is None:
        raise BackproplabError(f"{str(path)!r} does not exist")
    if kind != "a regular file":
        raise BackproplabError(f"{str(path)!r} is {kind}, not a {what}")
    return Path(path)


def check_replaceable(path: str | os.PathLike) -> Path:
    """Refuse `path` unless it is nothing or a regular file: backproplab never writes over (or
    through) a link, a folder, a device, a FIFO or a socket, --overwrite or not."""
    text = os.fspath(path)
    if text.endswith((os.sep, "/")) or Path(text).name in ("", ".", ".."):  # `--out plots/`
        raise BackproplabError(f"{text!r} names a folder, not a file: give a file name "
                               "(nothing was written)")
    kind = file_kind(path)
    if kind not in (None, "a regular file"):
        raise BackproplabError(f"{str(path)!r} is {kind}, not a regular file; backproplab "
                               "replaces only regular files (nothing was written)")
    return Path(path)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside `path`; on success it replaces `path` in one rename.

    A crash or Ctrl-C leaves either the old file or the new one, never half of one (and at most
    a temporary, which the next write of `path` removes). Only a regular file is replaced.
    """
    path = check_replaceable(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.",
                               suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp's 0600 would make every output private
    try:
        yield Path(tmp)
        check_replaceable(path)  # again: the time to write may have let something else in
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    sweep_temporaries(path)


def sweep_temporaries(path: str | os.PathLike) -> None:
    """Remove the temporaries of `path` that processes no longer running left (Ctrl-C, kill),
    and, in a folder backproplab owns, those of `path` that earlier versions left."""
    path = Path(path)
    legacy = re.compile(rf"^\.{re.escape(path.name)}\.{_LEGACY_RANDOM}"
                        rf"{re.escape(path.suffix)}$") if _owned(path.parent) else None
    with contextlib.suppress(OSError):
        for entry in os.scandir(path.parent):
            m = _TEMPORARY.match(entry.name)
            if m and m["name"] == path.name:
                stale = not _alive(int(m["pid"]))
            else:
                stale = legacy is not None and legacy.match(entry.name) is not None
            if stale and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)


def _owned(folder: Path) -> bool:
    """Whether `folder` is, or is inside, a job's folder: one that holds the lock file that
    `RunFolder.open` makes (a study, a CNN run, reproduce)."""
    with contextlib.suppress(OSError):
        for parent in (folder.resolve(), *folder.resolve().parents):
            if file_kind(parent / LOCK) == "a regular file":
                return True
    return False


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # another write of ours, maybe in another thread
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def write_bytes(path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path, obj) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_jsonable) + "\n")


def parse_json(text: str | bytes):
    """`json.loads` for every file and message backproplab reads back: a ValueError for what is
    not JSON, nesting too deep for Python's parser included (a state file of '[' * 100000 was
    a RecursionError traceback)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _jsonable(x):
    if hasattr(x, "tolist"):  # numpy scalars and arrays
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def csv_text(rows, columns, digits: int | None = 10) -> str:
    """CSV text of `rows` (dicts) under the header `columns`: keys not in `columns` are left out,
    missing ones and None left empty, floats written with `digits` significant digits (None:
    in full, as Python prints them)."""
    buf = StringIO()
    writer = csv.DictWriter(buf, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.{digits}g}" if isinstance(v, float) and digits else v)
                         for k, v in row.items()})
    return buf.getvalue()


def savefig(fig, path, **kwargs) -> Path:
    """`fig.savefig` through a temporary file; the format comes from `path`'s suffix."""
    path = Path(path)
    kwargs.setdefault("dpi", 110)
    kwargs.setdefault("bbox_inches", "tight")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", **kwargs)
    return path


def versions(*packages: str) -> dict:
    """Versions of backproplab, Python and the named installed distributions (not imported)."""
    out = {"backproplab": __version__, "python": platform.python_version()}
    for name in packages:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[name] = metadata.version(name)
    return out


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


def claim_folder(path, marker: str, flag: str = "--out") -> dict | None:
    """The JSON `marker` that marks `path` as backproplab's folder; None for a new or empty one.

    Refuses a path that is a file, an unreadable marker and a folder of other files, so that
    nothing is ever written among someone else's files. What the marker must match to resume
    (a study's plan, a run's config, a profile) is the caller's to check.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise BackproplabError(f"{flag} {str(path)!r} is a file, not a folder")
    kind = file_kind(path / marker)
    if kind not in (None, "a regular file"):
        raise BackproplabError(f"{str(path / marker)!r} is {kind}, not a {marker} that "
                               "backproplab wrote; remove it yourself (nothing was written)")
    if kind is not None:
        try:
            meta = parse_json((path / marker).read_text())
        except (OSError, ValueError) as exc:
            raise BackproplabError(
                f"{str(path / marker)!r} is not a readable {marker} ({exc})") from None
        if not isinstance(meta, dict):
            raise BackproplabError(f"{str(path / marker)!r} is not a backproplab {marker} (it "
                                   f"holds {type(meta).__name__}, not an object)")
        return meta
    contents = sorted(p.name for p in path.iterdir() if not _incidental(p.name)) \
        if path.is_dir() else []
    if contents:
        shown = ", ".join(contents[:3]) + (", ..." if len(contents) > 3 else "")
        raise BackproplabError(
            f"{flag} {str(path)!r} is not empty: it already holds other files ({shown}) and no "
            f"{marker}; choose a new or empty folder (nothing was written)")
    return None


def _incidental(name: str) -> bool:
    """The lock and temporaries: ours, but no job's content (an empty folder stays empty)."""
    return name == LOCK or _TEMPORARY.match(name) is not None


def relative_to_folder(path, folder) -> str:
    """`path` (a file a job wrote into `folder`) as a state file records it: relative to
    `folder`, so that the folder may be moved, copied or used from another directory."""
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(folder))
    if rel == ".." or rel.startswith(".." + os.sep):
        raise BackproplabError(f"{str(path)!r} is outside {str(folder)!r}")
    return rel


def inside_folder(folder, recorded, what: str) -> Path:
    """A path a state file `what` records, resolved inside `folder`; anything that leads
    outside it (absolute, .., a link) is refused: a state file names only the folder's files."""
    if not isinstance(recorded, str) or not recorded:
        raise BackproplabError(f"{what} records {recorded!r} where a file name belongs")
    root = Path(folder).resolve()
    path = (root / recorded).resolve()
    if not path.is_relative_to(root):
        raise BackproplabError(f"{what} records {recorded!r}, outside {str(folder)!r}; a state "
                               "file names only files of its own folder (nothing was read)")
    return path


def check_new_file(path, overwrite: bool = False, flag: str = "--overwrite",
                   suffixes: tuple = ()) -> Path:
    """Refuse to replace an existing file unless asked, and anything but a regular file even
    when asked; with `suffixes` (".png", ...), a name with another suffix (case aside), before
    any work rather than after it."""
    path = check_replaceable(path)
    if suffixes and path.suffix.lower() not in suffixes:
        raise BackproplabError(f"{str(path)!r}: the file name must end in "
                               f"{', '.join(suffixes[:-1])} or {suffixes[-1]}")
    if os.path.lexists(path) and not overwrite:
        raise BackproplabError(f"{str(path)!r} already exists; pass {flag} to replace it")
    return path


class RunFolder:
    """A job's output folder, marked by the JSON file `marker` (study.json, run.json, ...).

    The marker holds the job's identity (top-level keys whose values must match to resume,
    e.g. {"plan": ...} or {"config": ..., "data": ...}), `versions` and the job's own state.
    `kind` names the job in messages ("study", "run"), `flag` the option naming the folder,
    `owned` the file names and globs of the job (the only files `--overwrite` removes).

    `open` also locks the folder (flock on `LOCK` inside it) for this process until `close()`
    or the process ends: a second process is refused, naming the holder; a lock whose process
    died is released by the system and simply taken.
    """

    def __init__(self, path, marker: str, *, kind: str = "run", flag: str = "--out",
                 owned: tuple = (), state: dict | None = None):
        self.path, self.marker, self.kind, self.flag = Path(path), marker, kind, flag
        self.owned = (marker, *owned)
        # the job's own state in the marker that a resume reads back: key -> its type (a
        # marker edited to another type is refused like a wrong identity, not crashed on)
        self.state = {"versions": dict, "started": str, **(state or {})}

    @property
    def marker_path(self) -> Path:
        return self.path / self.marker

    def read(self) -> dict | None:
        """The marker, or None for a new or empty folder; refuses anything else."""
        return claim_folder(self.path, self.marker, self.flag)

    def open(self, identity: dict, *, resume: bool | None = None, overwrite: bool = False,
             free: tuple = (), describe=None, versions_of: tuple = ()) -> dict | None:
        """Claim the folder for the job `identity`; return the marker to resume from, or None
        when the job starts afresh (a new marker is then written).

        resume=None: a folder holding the same job resumes, another job is refused (or
        replaced with `overwrite`); resume=True: the same job must be there; resume=False: a
        folder holding a job is refused unless `overwrite`. `free`: identity keys (or
        "key.subkey") that may differ on resume. `describe(marker)`: a few words on a job.
        """
        check = dict(identity=identity, resume=resume, overwrite=overwrite, free=free,
                     describe=describe or (lambda m: ""))
        self._refuse_if_in_use()  # a folder another process writes into: say so first
        self._admit(self.read(), **check)  # refuses what is not ours before anything is written
        self.lock()
        theirs = self.read()  # again, now that no other process can change it
        self._admit(theirs, **check)
        if theirs is not None and resume is not False and not overwrite:
            # its files are checked now, not when the first is replaced after some work
            self._own_files("nothing was written")
            return theirs
        if theirs is not None:
            self.remove_owned()  # --overwrite
        meta = {**identity, "versions": versions(*versions_of), "started": now()}
        self.write(meta)
        return None

    def _admit(self, theirs, *, identity, resume, overwrite, free, describe) -> None:
        """Refuse the job `identity` in a folder whose marker is `theirs`, as `open` says."""
        if resume and theirs is None:
            raise BackproplabError(f"--resume: {str(self.path)!r} holds no {self.kind} to "
                                   "resume")
        if theirs is None:
            return
        wrong = [k for k, v in identity.items() if k in theirs
                 and isinstance(theirs[k], dict) != isinstance(_plain(v), dict)]
        wrong += [k for k, kind in self.state.items() if k in theirs and k not in identity
                  and not isinstance(theirs[k], kind)]
        if wrong:  # not the shape a job writes: edited, or another program's file
            raise BackproplabError(
                f"{str(self.marker_path)!r} is not a {self.marker} backproplab wrote ("
                + ", ".join(f"{k} is {type(theirs[k]).__name__}" for k in wrong)
                + f"); remove it or choose another {self.flag}")
        what = describe(theirs)
        if resume is not False and not overwrite:
            differ = differences(theirs, identity, free)
            if differ:
                raise BackproplabError(
                    f"{self._where()} holds another {self.kind}{f' ({what})' if what else ''}: "
                    + "; ".join(differ)
                    + ("" if resume else f"; choose another {self.flag} or remove it"))
        elif not overwrite:
            raise BackproplabError(
                f"{self._where()} already holds a {self.kind}{f' ({what})' if what else ''};"
                " pass --resume to continue it or --overwrite to replace it")

    def write(self, meta: dict) -> Path:
        return write_json(self.marker_path, meta)

    def lock(self) -> None:
        """Hold the folder's lock for this process (kept until `close()` or exit)."""
        key = os.path.realpath(self.path)
        if key in _HELD:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        lock = check_replaceable(self.path / LOCK)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o666 & ~_UMASK)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _holder(os.read(fd, 4096))
            os.close(fd)
            raise BackproplabError(
                f"{self._where()} is in use by another backproplab process ({holder}); wait "
                "for it to end or stop it (nothing was written)") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                  "command": " ".join(sys.argv), "since": now()}).encode(), 0)
        _HELD[key] = fd

    def _refuse_if_in_use(self) -> None:
        """The in-use error when another process holds the lock; writes nothing."""
        lock = self.path / LOCK
        if not self.path.is_dir() or os.path.realpath(self.path) in _HELD \
                or file_kind(lock) != "a regular file":
            return
        fd = os.open(lock, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # a probe, released at once
        except OSError:
            raise BackproplabError(
                f"{self._where()} is in use by another backproplab process "
                f"({_holder(os.read(fd, 4096))}); wait for it to end or stop it (nothing was "
                "written)") from None
        finally:
            os.close(fd)

    def close(self) -> None:
        """Release the folder's lock (if this process holds it)."""
        fd = _HELD.pop(os.path.realpath(self.path), None)
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _own_files(self, done: str) -> list[Path]:
        """The job's own files in the folder, each a regular file, or a BackproplabError (a
        link, a FIFO, a folder by one of their names is not a file backproplab wrote)."""
        mine = [p for p in (sorted(self.path.iterdir()) if self.path.is_dir() else [])
                if not _incidental(p.name)
                and any(fnmatch.fnmatch(p.name, pattern) for pattern in self.owned)]
        for p in mine:
            kind = file_kind(p)
            if kind != "a regular file":
                raise BackproplabError(f"{str(p)!r} is {kind}, not a regular file that "
                                       f"backproplab wrote; remove it yourself ({done})")
        return mine

    def remove_owned(self) -> None:
        """Delete the job's own files (regular files only), nothing else (not the lock)."""
        for p in self._own_files("nothing was deleted"):
            p.unlink()

    def _where(self) -> str:
        return f"{self.flag} {str(self.path)!r}"


_HELD: dict[str, int] = {}  # real path of a run folder -> its lock file, held by this process


def _holder(text: bytes) -> str:
    try:
        h = parse_json(text)
        return (f"pid {h['pid']} on {h['host']}, running {h['command']!r} since {h['since']}")
    except (ValueError, TypeError, KeyError):
        return "holder unknown"


def differences(theirs: dict, mine: dict, free: tuple = ()) -> list[str]:
    """'key=theirs there, mine here' for each identity key (or sub-key of a dict value) that
    differs; long values are named only. Keys in `free` ("key" or "key.subkey") are skipped."""
    out = []
    for key, value in mine.items():
        if key in free:
            continue
        old = _plain(theirs.get(key))
        value = _plain(value)
        if isinstance(old, dict) and isinstance(value, dict):
            out += [_differ(k, old.get(k), v) for k, v in value.items()
                    if f"{key}.{k}" not in free and old.get(k) != v]
        elif old != value:
            out.append(_differ(key, old, value))
    return out


def _plain(value):
    """As it reads back from JSON (tuples as lists, paths as strings)."""
    return json.loads(json.dumps(value, default=_jsonable))


def _differ(key, old, new) -> str:
    if len(repr(old)) + len(repr(new)) > 80:
        return f"{key} differs"
    return f"{key}={old!r} there, {new!r} here"
