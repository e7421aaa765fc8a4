"""Files written by backproplab are written atomically, and nothing is overwritten unasked."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

from backproplab.errors import BackproplabError

_UMASK = os.umask(0o022)  # read once, at import (setting it is process-wide), then restored
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside `path`; on success it replaces `path` in one rename.

    A crash or Ctrl-C leaves either the old file or the new one, never half of one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp's 0600 would make every output private
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_bytes(path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path, obj) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_jsonable) + "\n")


def _jsonable(x):
    if hasattr(x, "tolist"):  # numpy scalars and arrays
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def savefig(fig, path, **kwargs) -> Path:
    """`fig.savefig` through a temporary file; the format comes from `path`'s suffix."""
    path = Path(path)
    kwargs.setdefault("dpi", 110)
    kwargs.setdefault("bbox_inches", "tight")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", **kwargs)
    return path


def claim_folder(path, marker: str, flag: str = "--out") -> dict | None:
    """The JSON `marker` that marks `path` as backproplab's folder; None for a new or empty one.

    Refuses a path that is a file, an unreadable marker and a folder of other files, so that
    nothing is ever written among someone else's files. What the marker must match to resume
    (a study's plan, a run's config, a profile) is the caller's to check.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise BackproplabError(f"{flag} {str(path)!r} is a file, not a folder")
    if (path / marker).is_file():
        try:
            return json.loads((path / marker).read_text())
        except (OSError, ValueError) as exc:
            raise BackproplabError(
                f"{str(path / marker)!r} is not a readable {marker} ({exc})") from None
    contents = sorted(p.name for p in path.iterdir()) if path.is_dir() else []
    if contents:
        shown = ", ".join(contents[:3]) + (", ..." if len(contents) > 3 else "")
        raise BackproplabError(
            f"{flag} {str(path)!r} is not empty: it already holds other files ({shown}) and no "
            f"{marker}; choose a new or empty folder (nothing was written)")
    return None


def check_new_file(path, overwrite: bool = False, flag: str = "--overwrite") -> Path:
    """Refuse to replace an existing file unless asked."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise BackproplabError(f"{str(path)!r} already exists; pass {flag} to replace it")
    return path
