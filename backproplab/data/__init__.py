"""MNIST and Fashion-MNIST: an IDX reader that checks what it reads, and where the files come from.

NumPy only (no PyTorch), so that `backproplab reproduce` can say which data it will use before
anything heavy is imported; NumPy itself is imported by the functions that read and write
arrays, so that the table of datasets (the CLI's choices) costs nothing to import.

Every file is checked three ways before use: the IDX magic number, the dimensions against the
file's size, and the MD5 of its uncompressed bytes against the published files (or, for a
folder holding a subset, against the `MD5SUMS.raw` manifest beside it).

Where the data comes from, in order (`locate`):
  1. `data_dir` (the `--data-dir` flag): the files must be there, nothing else is tried;
  2. the `BACKPROPLAB_DATA` environment variable (the folder itself or its `<dataset>/` subfolder);
  3. the user cache, `$XDG_CACHE_HOME/backproplab/<dataset>` (default `~/.cache/backproplab/...`);
  4. system folders (Debian's `dataset-fashion-mnist` for Fashion-MNIST);
  5. a download into the cache with pooch, from the mirrors torchvision uses, each file checked
     against the official .gz MD5 (a corrupt download is deleted by pooch, never used).
`locate_mnist` adds the subset bundled with the package as an explicit, reported fallback.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from backproplab.errors import BackproplabError, require
from backproplab.io import write_bytes, write_text
from backproplab.progress import Progress

if TYPE_CHECKING:
    import numpy as np

# Stem of each file in the original distribution; the file may be raw or end in .gz.
FILES = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}
MANIFEST = "MD5SUMS.raw"  # `md5  stem` lines for the uncompressed files of a subset folder
_DTYPE_CODE = 0x08  # unsigned byte, the only element type MNIST uses


@dataclass(frozen=True)
class DatasetInfo:
    """A published dataset: its files' MD5s, where to download them, its pixel statistics."""

    name: str
    raw_md5: dict  # stem -> MD5 of the uncompressed file
    gz_md5: dict  # stem -> MD5 of the official .gz download
    mirrors: tuple
    counts: dict  # split -> number of examples
    mean: float  # of the training pixels scaled to [0, 1]; used to normalise
    std: float
    system_dirs: tuple = ()
    classes: tuple = tuple(str(d) for d in range(10))


IMAGE_DATASETS = {
    "mnist": DatasetInfo(
        name="mnist",
        raw_md5={
            "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
            "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
            "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
            "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
        },
        gz_md5={
            "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
        },
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "http://yann.lecun.com/exdb/mnist/"),
        counts={"train": 60000, "test": 10000},
        mean=0.1307, std=0.3081,
    ),
    "fashion-mnist": DatasetInfo(
        name="fashion-mnist",
        raw_md5={  # of the files Debian's dataset-fashion-mnist installs
            "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
            "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
            "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
            "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
        },
        gz_md5={
            "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
        },
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        counts={"train": 60000, "test": 10000},
        mean=0.2860, std=0.3530,
        system_dirs=("/usr/share/datasets/fashion-mnist",),
        classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                 "Sneaker", "Bag", "Ankle boot"),
    ),
}

# The labelled subset shipped inside the package (backproplab/data/mnist-subset-*.gz): a seeded
# random 10,000 of MNIST's training images and 2,000 of its test images, cut by
# `write_subset(..., seed=0)`. MD5s of the uncompressed files.
BUNDLED_DIR = Path(__file__).resolve().parent
BUNDLED_PREFIX = "mnist-subset-"
BUNDLED_MD5 = {
    "train-images-idx3-ubyte": "10c255b42de8209b16cda20537b185ce",
    "train-labels-idx1-ubyte": "592c9816509ea9df25a90f7f7bd5b0f7",
    "t10k-images-idx3-ubyte": "7a4a95790a438e5be0c1ec8c6af6df9c",
    "t10k-labels-idx1-ubyte": "6b5d1d99d2b87e8f8286862e2d88ba9a",
}
BUNDLED_COUNTS = {"train": 10000, "test": 2000}


# --------------------------------------------------------------------------- the IDX reader

def read_idx(path: str | os.PathLike, expected_md5: str | None = None,
             what: str = "") -> np.ndarray:
    """Read one IDX file (raw or .gz) into a uint8 array of its declared shape.

    Checks the magic number (0x0000 08 NDIM), that the file holds exactly prod(dims) bytes after
    its header, and, when given, the MD5 of the uncompressed bytes.
    """
    import numpy as np  # here, not at the top: see the module docstring

    path = Path(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
        if raw[:2] == b"\x1f\x8b":  # gzip's magic, whatever the name says
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        if isinstance(exc, FileNotFoundError):
            raise BackproplabError(f"{what or 'IDX file'} {str(path)!r} does not exist") from None
        raise BackproplabError(f"{str(path)!r} is not a readable IDX file "
                               f"(truncated or corrupt gzip: {exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != _DTYPE_CODE or not 1 <= raw[3] <= 3:
        raise BackproplabError(
            f"{str(path)!r} has wrong magic number {raw[:4].hex() or '(empty file)'}; "
            f"an MNIST IDX file starts with 000008 and 01 (labels) or 03 (images)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise BackproplabError(f"{str(path)!r} is truncated: {len(raw)} bytes, shorter than "
                               f"its {header}-byte header")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = header + math.prod(dims)
    if len(raw) != expected:
        raise BackproplabError(
            f"{str(path)!r} has wrong size: {len(raw)} bytes uncompressed, but its header "
            f"declares dimensions {'x'.join(map(str, dims))}, i.e. {expected} bytes "
            f"({'truncated' if len(raw) < expected else 'trailing bytes'})")
    if expected_md5 is not None:
        got = hashlib.md5(raw).hexdigest()
        if got != expected_md5:
            raise BackproplabError(
                f"{str(path)!r} fails its MD5 check: uncompressed MD5 {got}, expected "
                f"{expected_md5}; the file is corrupt or not the published one")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write a uint8 array as an IDX file, gzip-compressed when `path` ends in .gz (atomically)."""
    import numpy as np  # here, not at the top: see the module docstring

    array = np.ascontiguousarray(array, dtype=np.uint8)
    raw = bytes([0, 0, _DTYPE_CODE, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    raw += array.tobytes()
    data = gzip.compress(raw, compresslevel=9, mtime=0) if str(path).endswith(".gz") else raw
    return write_bytes(path, data)


def md5_of_idx(array: np.ndarray) -> str:
    """MD5 of the uncompressed IDX file that `write_idx` writes for `array`."""
    import numpy as np  # here, not at the top: see the module docstring

    array = np.ascontiguousarray(array, dtype=np.uint8)
    raw = bytes([0, 0, _DTYPE_CODE, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return hashlib.md5(raw + array.tobytes()).hexdigest()


# --------------------------------------------------------------------------- finding the files

@dataclass
class DataSource:
    """Where a dataset was found. `kind` is "full" (the published files) or "subset"."""

    dataset: str
    folder: Path
    kind: str
    origin: str  # "--data-dir", "BACKPROPLAB_DATA", "cache", "system", "download", "bundled"
    files: dict = field(default_factory=dict)  # (split, part) -> Path
    md5: dict = field(default_factory=dict)  # stem -> expected MD5 of the uncompressed file
    prefix: str = ""
    note: str = ""  # a sentence for reports, e.g. why the bundled subset is used

    def __post_init__(self):
        # every file is checked, or the source is refused: a manifest missing a line would
        # otherwise let that file through unchecked
        missing = [stem for stem in FILES.values() if stem not in self.md5]
        if missing:
            raise BackproplabError(
                f"{str(self.folder / MANIFEST)!r} has no MD5 for {', '.join(missing)}: every "
                f"file must be listed (md5sum of the uncompressed files), none is used unchecked")

    def describe(self) -> str:
        counts = self.counts()
        text = (f"{self.dataset} ({self.kind}: {counts['train']:,} train / {counts['test']:,} "
                f"test) from {self.folder} [{self.origin}]")
        return f"{self.note} {text}".strip() if self.note else text

    def counts(self) -> dict:
        return {split: _count(self.files[(split, "labels")]) for split in ("train", "test")}


def cache_dir() -> Path:
    """The user cache: `$XDG_CACHE_HOME/backproplab`, by default `~/.cache/backproplab`."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "backproplab"


def candidate_dirs(dataset: str) -> list[tuple[str, Path]]:
    """The folders searched, in order, before any download: (origin, folder)."""
    info = _info(dataset)
    found = []
    env = os.environ.get("BACKPROPLAB_DATA")
    if env:
        found += [("BACKPROPLAB_DATA", Path(env)), ("BACKPROPLAB_DATA", Path(env) / dataset)]
    found.append(("cache", cache_dir() / dataset))
    found += [("system", Path(d)) for d in info.system_dirs]
    return found


def locate(dataset: str = "mnist", data_dir: str | os.PathLike | None = None,
           download: bool = True, progress: bool = True) -> DataSource:
    """Find `dataset` (see the module docstring for the order); download it if allowed.

    Raises BackproplabError naming the files and the folders searched when it is nowhere.
    """
    info = _info(dataset)
    if data_dir is not None:
        source = _source_in(Path(data_dir), info, "--data-dir")
        if source is None:
            raise BackproplabError(_missing_message(info, [Path(data_dir)], download=False))
        return source
    searched = candidate_dirs(dataset)
    for origin, folder in searched:
        source = _source_in(folder, info, origin)
        if source is not None:
            return source
    folders = [folder for _, folder in searched]
    if not download:
        raise BackproplabError(_missing_message(info, folders, download=False))
    try:
        folder = fetch(dataset, cache_dir() / dataset, progress=progress)
    except BackproplabError as exc:
        message = _missing_message(info, folders, download=True)
        raise BackproplabError(f"{message} ({exc})") from None
    return _source_in(folder, info, "download")


def bundled_source(note: str = "") -> DataSource:
    """The labelled MNIST subset shipped inside the package (10,000 train / 2,000 test)."""
    files = {key: BUNDLED_DIR / f"{BUNDLED_PREFIX}{stem}.gz" for key, stem in FILES.items()}
    return DataSource("mnist", BUNDLED_DIR, "subset", "bundled", files, dict(BUNDLED_MD5),
                      BUNDLED_PREFIX, note)


def locate_mnist(data_dir: str | os.PathLike | None = None, download: bool = True,
                 allow_subset: bool = True, progress: bool = True) -> DataSource:
    """Full MNIST if it can be found or downloaded, else (if allowed) the bundled subset.

    The fallback is never silent: the returned source's `note` and `describe()` say
    "full MNIST not found; using the bundled 10,000/2,000 subset" and why.
    """
    try:
        return locate("mnist", data_dir, download=download, progress=progress)
    except BackproplabError as exc:
        if not allow_subset or data_dir is not None:
            raise
        reason = str(exc)
    n = BUNDLED_COUNTS
    return bundled_source(note=f"full MNIST not found; using the bundled {n['train']:,}/"
                               f"{n['test']:,} subset ({reason.split(';')[0]}).")


def load(source: DataSource, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) uint8 of `split` ("train" or "test"), checked."""
    stems = {part: FILES[(split, part)] for part in ("images", "labels")}
    images = read_idx(source.files[(split, "images")], source.md5[stems["images"]],
                      f"{split} images")
    labels = read_idx(source.files[(split, "labels")], source.md5[stems["labels"]],
                      f"{split} labels")
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1:
        raise BackproplabError(
            f"{source.folder}: {split} images must be (N, 28, 28) and labels (N,), got "
            f"shapes {images.shape} and {labels.shape}")
    if len(images) != len(labels):
        raise BackproplabError(
            f"{source.folder}: {split} images and labels have different lengths "
            f"({len(images)} images, {len(labels)} labels)")
    if labels.size and labels.max() > 9:
        raise BackproplabError(f"{source.folder}: {split} labels must be 0-9, found {labels.max()}")
    return images, labels


def write_subset(source: DataSource, folder: str | os.PathLike, n_train: int, n_test: int,
                 seed: int = 0, prefix: str = "", manifest: bool = True) -> dict:
    """Cut a seeded random subset of `source` into `folder` (IDX .gz + MD5SUMS.raw manifest).

    Returns {stem: MD5 of the uncompressed file}. Used to make the bundled subset and the tests'
    fixture; order within each split is kept.
    """
    import numpy as np  # here, not at the top: see the module docstring

    rng = np.random.default_rng(seed)
    md5 = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = load(source, split)
        keep = np.sort(rng.choice(len(labels), size=n, replace=False))
        for part, array in (("images", images[keep]), ("labels", labels[keep])):
            stem = FILES[(split, part)]
            write_idx(Path(folder) / f"{prefix}{stem}.gz", array)
            md5[stem] = md5_of_idx(array)
    if manifest:
        write_text(Path(folder) / MANIFEST,
                   "".join(f"{h}  {prefix}{stem}\n" for stem, h in sorted(md5.items())))
    return md5


def fetch(dataset: str, folder: Path, progress: bool = True) -> Path:
    """Download the four .gz files into `folder` with pooch, trying each mirror in turn."""
    pooch = require("pooch", "cnn", "downloading MNIST")
    info = _info(dataset)
    for stem in FILES.values():
        errors = []
        for mirror in info.mirrors:
            try:
                pooch.retrieve(f"{mirror}{stem}.gz", known_hash=f"md5:{info.gz_md5[stem]}",
                               fname=f"{stem}.gz", path=folder,
                               downloader=pooch.HTTPDownloader(
                                   progressbar=_PoochBar(stem) if progress else False,
                                   timeout=30))
                break
            except Exception as exc:  # network errors and hash mismatches alike: next mirror
                errors.append(f"{mirror}: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
        else:
            raise BackproplabError(f"could not download {stem}.gz ({'; '.join(errors)})")
    return folder


class _PoochBar:
    """pooch's progress-bar protocol (total, update, reset, close) on our Progress."""

    def __init__(self, desc: str):
        self.desc, self.total, self._bar = desc, 0, None

    def update(self, n):
        if self._bar is None:
            self._bar = Progress(self.total or 1, desc=self.desc, unit="B")
        self._bar.update(n)

    def reset(self):
        self._bar = None

    def close(self):
        if self._bar is not None:
            self._bar.close()


# --------------------------------------------------------------------------- helpers

def _info(dataset: str) -> DatasetInfo:
    if dataset not in IMAGE_DATASETS:
        raise BackproplabError(f"unknown dataset {dataset!r}; valid: {', '.join(IMAGE_DATASETS)}")
    return IMAGE_DATASETS[dataset]


def _find(folder: Path, stem: str) -> Path | None:
    for name in (f"{stem}.gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def _source_in(folder: Path, info: DatasetInfo, origin: str) -> DataSource | None:
    """The dataset in `folder` if all four files are there (checked when loaded), else None."""
    files = {key: _find(folder, stem) for key, stem in FILES.items()}
    if not folder.is_dir() or any(path is None for path in files.values()):
        if origin == "--data-dir" and folder.is_dir() and any(files.values()):
            missing = [stem for key, stem in FILES.items() if files[key] is None]
            raise BackproplabError(f"{str(folder)!r} holds only part of {info.name}: missing "
                                   f"{', '.join(s + '[.gz]' for s in missing)}")
        return None
    manifest = _read_manifest(folder / MANIFEST)
    full = all(_count(files[(split, "labels")]) == n for split, n in info.counts.items())
    if full:  # the published sizes are checked against the published MD5s, whatever is beside
        return DataSource(info.name, folder, "full", origin, files, dict(info.raw_md5))
    if not manifest:
        raise BackproplabError(
            f"{str(folder)!r} holds a subset of {info.name} (not the published sizes "
            f"{info.counts['train']}/{info.counts['test']}) without an {MANIFEST} manifest to "
            f"check it against; add one (md5sum of the uncompressed files) or use the full files")
    return DataSource(info.name, folder, "subset", origin, files, manifest)


def _read_manifest(path: Path) -> dict:
    if not path.is_file():
        return {}
    md5 = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            md5[parts[1].lstrip("*").removesuffix(".gz")] = parts[0]
    return md5


def _count(path: Path) -> int:
    """The number of items an IDX file's header declares (-1 if unreadable)."""
    try:
        with open(path, "rb") as fh:
            gz = fh.read(2) == b"\x1f\x8b"
        with (gzip.open if gz else open)(path, "rb") as fh:
            head = fh.read(8)
        return struct.unpack(">I", head[4:8])[0] if len(head) == 8 else -1
    except (OSError, EOFError, zlib.error):
        return -1


def _missing_message(info: DatasetInfo, folders: list[Path], download: bool) -> str:
    names = ", ".join(f"{stem}.gz" for stem in FILES.values())
    where = ", ".join(str(f) for f in folders)
    tried = "download failed" if download else "no download tried"
    subset = "; or use the bundled subset: --dataset mnist-subset" if info.name == "mnist" else ""
    return (f"{info.name} not found ({tried}): put {names} (raw or .gz) in one of: {where}; "
            f"or pass --data-dir DIR, or set BACKPROPLAB_DATA{subset}")
