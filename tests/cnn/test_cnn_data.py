"""Reading IDX files and finding MNIST: every check of what is read, every source in order."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import threading
from dataclasses import replace
from functools import partial

import numpy as np
import pytest

from backproplab import data
from backproplab.errors import BackproplabError


def _raw(path):
    return gzip.decompress(path.read_bytes())


def _write_gz(path, raw: bytes):
    path.write_bytes(gzip.compress(raw))


def test_fixture_reads_with_checked_md5(fixture_dir):
    source = data.locate("mnist", fixture_dir)
    images, labels = data.load(source, "train")
    assert source.kind == "subset" and images.shape == (500, 28, 28) and labels.shape == (500,)
    assert set(np.unique(labels)) == set(range(10))


def test_the_bundled_subset_is_10000_by_2000_and_checked():
    source = data.bundled_source()
    train, test = data.load(source, "train"), data.load(source, "test")
    assert len(train[1]) == 10000 and len(test[1]) == 2000
    assert source.md5 == data.BUNDLED_MD5


def test_write_idx_round_trips_and_its_md5_is_the_files(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = data.write_idx(tmp_path / "x.gz", array)
    assert hashlib.md5(_raw(path)).hexdigest() == data.md5_of_idx(array)
    assert np.array_equal(data.read_idx(path, data.md5_of_idx(array)), array)


def test_raw_files_read_as_well_as_gz(tmp_path, fixture_dir):
    raw = _raw(fixture_dir / "t10k-labels-idx1-ubyte.gz")
    (tmp_path / "labels").write_bytes(raw)
    assert data.read_idx(tmp_path / "labels", hashlib.md5(raw).hexdigest()).shape == (200,)


def test_wrong_magic_number_is_refused(data_copy):
    path = data_copy / "t10k-labels-idx1-ubyte.gz"
    _write_gz(path, b"\x00\x00\x09\x01" + _raw(path)[4:])
    with pytest.raises(BackproplabError, match="wrong magic number 00000901"):
        data.load(data.locate("mnist", data_copy), "test")


def test_wrong_size_is_refused(data_copy):
    path = data_copy / "t10k-images-idx3-ubyte.gz"
    _write_gz(path, _raw(path)[:-100])
    with pytest.raises(BackproplabError, match="wrong size.*truncated"):
        data.load(data.locate("mnist", data_copy), "test")


def test_truncated_gzip_is_refused(data_copy):
    path = data_copy / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(BackproplabError, match="truncated or corrupt gzip"):
        data.load(data.locate("mnist", data_copy), "test")


def test_md5_mismatch_is_refused(data_copy):
    path = data_copy / "t10k-images-idx3-ubyte.gz"
    raw = bytearray(_raw(path))
    raw[-1] ^= 0xFF  # one pixel changed: same size, same header
    _write_gz(path, bytes(raw))
    with pytest.raises(BackproplabError, match="fails its MD5 check"):
        data.load(data.locate("mnist", data_copy), "test")


def test_images_and_labels_of_different_lengths_are_refused(data_copy):
    labels = data.read_idx(data_copy / "t10k-labels-idx1-ubyte.gz")[:150]
    data.write_idx(data_copy / "t10k-labels-idx1-ubyte.gz", labels)
    manifest = data_copy / data.MANIFEST  # checksums right, so only the lengths are wrong
    lines = [ln for ln in manifest.read_text().splitlines() if "t10k-labels" not in ln]
    manifest.write_text("\n".join(lines + [f"{data.md5_of_idx(labels)}  t10k-labels-idx1-ubyte"]))
    with pytest.raises(BackproplabError, match="different lengths.*200 images, 150 labels"):
        data.load(data.locate("mnist", data_copy), "test")


def test_a_missing_file_is_named(data_copy):
    (data_copy / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(BackproplabError, match="missing train-labels-idx1-ubyte"):
        data.locate("mnist", data_copy)


def test_a_subset_without_manifest_is_refused(data_copy):
    (data_copy / data.MANIFEST).unlink()
    with pytest.raises(BackproplabError, match="without an MD5SUMS.raw manifest"):
        data.locate("mnist", data_copy)


def test_data_dir_comes_before_the_environment(monkeypatch, tmp_path, fixture_dir):
    monkeypatch.setenv("BACKPROPLAB_DATA", str(tmp_path / "elsewhere"))
    assert data.locate("mnist", fixture_dir, download=False).origin == "--data-dir"


def test_the_environment_variable_and_its_dataset_subfolder_are_searched(
        monkeypatch, tmp_path, data_copy):
    monkeypatch.setenv("BACKPROPLAB_DATA", str(tmp_path))  # data_copy is tmp_path/mnist
    source = data.locate("mnist", download=False)
    assert (source.origin, source.folder) == ("BACKPROPLAB_DATA", data_copy)


def test_the_user_cache_is_searched(tmp_path, fixture_dir):
    import shutil

    shutil.copytree(fixture_dir, tmp_path / "cache" / "backproplab" / "mnist")  # XDG_CACHE_HOME
    assert data.locate("mnist", download=False).origin == "cache"


def test_offline_and_not_found_names_files_and_folders(tmp_path):
    with pytest.raises(BackproplabError) as err:
        data.locate("mnist", download=False)
    message = str(err.value)
    assert "train-images-idx3-ubyte.gz" in message and "t10k-labels-idx1-ubyte.gz" in message
    assert str(tmp_path / "cache" / "backproplab" / "mnist") in message
    assert "\n" not in message


def test_locate_mnist_falls_back_to_the_bundled_subset_and_says_so():
    source = data.locate_mnist(download=False)
    assert source.kind == "subset" and source.origin == "bundled"
    assert source.describe().startswith("full MNIST not found; using the bundled 10,000/2,000")


def test_locate_mnist_never_substitutes_for_an_explicit_data_dir(tmp_path):
    with pytest.raises(BackproplabError, match="not found"):
        data.locate_mnist(tmp_path, download=False)


@pytest.fixture
def mirror(fixture_dir, monkeypatch):
    """A local HTTP server serving the fixture's files as if it were an MNIST mirror."""
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(fixture_dir))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/"
    yield url
    server.shutdown()


def test_a_download_failing_its_md5_is_deleted_never_used(mirror, monkeypatch, tmp_path):
    # the fixture's files are not the official downloads, so their .gz MD5s do not match
    mnist = replace(data.IMAGE_DATASETS["mnist"], mirrors=(mirror,))
    monkeypatch.setitem(data.IMAGE_DATASETS, "mnist", mnist)
    with pytest.raises(BackproplabError, match="download failed.*could not download"):
        data.locate("mnist", progress=False)
    cache = tmp_path / "cache" / "backproplab" / "mnist"
    assert not cache.exists() or not any(cache.iterdir())


def test_a_download_falls_through_to_the_next_mirror(mirror, monkeypatch, fixture_dir):
    gz_md5 = {stem: hashlib.md5((fixture_dir / f"{stem}.gz").read_bytes()).hexdigest()
              for stem in data.FILES.values()}
    raw_md5 = {stem: h for h, stem in (ln.split() for ln in
                                       (fixture_dir / data.MANIFEST).read_text().splitlines())}
    fake = replace(data.IMAGE_DATASETS["mnist"], mirrors=(mirror + "missing/", mirror),
                   gz_md5=gz_md5, raw_md5=raw_md5, counts={"train": 500, "test": 200})
    monkeypatch.setitem(data.IMAGE_DATASETS, "mnist", fake)
    source = data.locate("mnist", progress=False)
    assert source.origin == "download" and source.kind == "full"  # "full" for the fake counts
    assert len(data.load(source, "test")[1]) == 200


def test_fashion_mnist_is_found_where_debian_installs_it(monkeypatch, data_copy):
    info = replace(data.IMAGE_DATASETS["fashion-mnist"], system_dirs=(str(data_copy),))
    monkeypatch.setitem(data.IMAGE_DATASETS, "fashion-mnist", info)
    source = data.locate("fashion-mnist", download=False)
    assert (source.origin, source.folder) == ("system", data_copy)
