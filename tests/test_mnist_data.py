"""The bundled MNIST: published facts, verification, caching and (offline) download."""

import gzip
import hashlib
import shutil
import urllib.error

import numpy as np
import pytest

from fastgrad.data import MNIST, MNIST_MEAN, MNIST_STD, load_mnist, mnist_transform
from fastgrad.data import mnist as mnist_mod
from fastgrad.data.idx import read_idx_bytes

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@pytest.fixture(autouse=True)
def hermetic(tmp_path, monkeypatch):
    """Keep the cache out of the source tree and make any real network access fail."""
    monkeypatch.setenv("FASTGRAD_CACHE_DIR", str(tmp_path / "default-cache"))

    def no_network(*args, **kwargs):
        raise AssertionError("tests must not touch the network")

    monkeypatch.setattr(mnist_mod.urllib.request, "urlopen", no_network)


@pytest.fixture(scope="module")
def train_set(tmp_path_factory):
    return MNIST(train=True, cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def test_set(tmp_path_factory):
    return MNIST(train=False, cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture
def test_root(tmp_path):
    """A private copy of the bundled test split that a test may damage."""
    root = tmp_path / "root"
    root.mkdir()
    for name in TEST_FILES:
        shutil.copy(mnist_mod.BUNDLED_ROOT / f"{name}.gz", root)
    return root


def _rewrite(root, name, mutate):
    """Gunzip ``root/name.gz``, apply ``mutate`` to its bytearray, gzip it back; return the raw bytes."""
    raw = bytearray(read_idx_bytes(root / f"{name}.gz"))
    raw = mutate(raw) or raw
    (root / f"{name}.gz").write_bytes(gzip.compress(bytes(raw), compresslevel=1))
    return bytes(raw)


# --- the published facts -------------------------------------------------


def test_train_split_facts(train_set):
    assert len(train_set) == 60000
    assert train_set.images.shape == (60000, 28, 28) and train_set.images.dtype == np.uint8
    assert train_set.labels.shape == (60000,) and train_set.labels.dtype == np.int64
    assert np.bincount(train_set.labels).tolist() == TRAIN_COUNTS


def test_test_split_facts(test_set):
    assert len(test_set) == 10000
    assert test_set.images.shape == (10000, 28, 28) and test_set.images.dtype == np.uint8
    assert np.bincount(test_set.labels, minlength=10).tolist() == TEST_COUNTS


def test_pixel_statistics_match_the_normalisation_constants(train_set):
    # From the histogram of pixel values, built in chunks: bincount would
    # otherwise widen all 47M pixels to int64 at once.
    images = train_set.images
    counts = sum(np.bincount(images[i : i + 5000].ravel(), minlength=256) for i in range(0, len(images), 5000))
    values = np.arange(256) / 255.0
    mean = (counts * values).sum() / counts.sum()
    std = np.sqrt((counts * (values - mean) ** 2).sum() / counts.sum())
    assert abs(mean - MNIST_MEAN) < 1e-4
    assert abs(std - MNIST_STD) < 1e-4


def test_getitem_and_arrays(test_set):
    image, label = test_set[3]
    assert image.shape == (28, 28) and image.dtype == np.uint8
    assert label == test_set.labels[3]
    images, labels = test_set[10:14]
    assert images.shape == (4, 28, 28) and labels.tolist() == test_set.labels[10:14].tolist()
    images, labels = test_set.arrays()
    assert images is test_set.images and labels is test_set.labels


def test_load_mnist_gives_uint8_images_and_int64_labels(test_set):
    images, labels = load_mnist(train=False)
    assert images.dtype == np.uint8 and labels.dtype == np.int64
    np.testing.assert_array_equal(images, test_set.images)
    np.testing.assert_array_equal(labels, test_set.labels)


# --- mnist_transform -----------------------------------------------------


def test_mnist_transform(test_set):
    batch = test_set.images[:8]
    out = mnist_transform(batch)
    assert out.dtype == np.float32 and out.shape == (8, 28, 28)
    np.testing.assert_allclose(out, (batch / 255.0 - MNIST_MEAN) / MNIST_STD, rtol=1e-5, atol=1e-6)
    assert mnist_transform(batch, add_channel=True).shape == (8, 1, 28, 28)
    assert mnist_transform(batch[0], add_channel=True).shape == (1, 28, 28)
    with pytest.raises(TypeError, match="uint8.*float64"):
        mnist_transform(batch / 255.0)


# --- verification --------------------------------------------------------


def test_uncompressed_copies_load_too(test_root, test_set):
    for name in TEST_FILES:
        gz = test_root / f"{name}.gz"
        (test_root / name).write_bytes(read_idx_bytes(gz))
        gz.unlink()
    ds = MNIST(root=test_root, train=False, cache=False)
    np.testing.assert_array_equal(ds.images, test_set.images)


@pytest.mark.parametrize("name", TEST_FILES)
def test_flipped_content_byte_is_caught_by_the_hash(test_root, name):
    def flip(raw):
        raw[len(raw) // 2] ^= 0x01

    corrupted = _rewrite(test_root, name, flip)
    with pytest.raises(ValueError) as info:
        MNIST(root=test_root, train=False, cache=False)
    message = str(info.value)
    assert str(test_root / f"{name}.gz") in message
    assert mnist_mod.SHA256[name] in message
    assert hashlib.sha256(corrupted).hexdigest() in message


def test_wrong_count_in_header(test_root):
    def bump_count(raw):
        raw[4:8] = (10001).to_bytes(4, "big")

    _rewrite(test_root, "t10k-labels-idx1-ubyte", bump_count)
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz: truncated.*10009"):
        MNIST(root=test_root, train=False, cache=False)


def test_labels_file_swapped_for_images(test_root):
    shutil.copy(test_root / "t10k-images-idx3-ubyte.gz", test_root / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(ValueError, match="magic 2051, expected 2049"):
        MNIST(root=test_root, train=False, cache=False)


def test_labels_of_the_other_split(test_root):
    shutil.copy(mnist_mod.BUNDLED_ROOT / "train-labels-idx1-ubyte.gz", test_root / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(ValueError, match=r"shape \(60000,\).*expected \(10000,\)"):
        MNIST(root=test_root, train=False, cache=False)


def test_truncated_gzip_file(test_root):
    path = test_root / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(ValueError, match="truncated") as info:
        MNIST(root=test_root, train=False, cache=False)
    assert str(path) in str(info.value)


def test_truncated_uncompressed_file(test_root):
    gz = test_root / "t10k-labels-idx1-ubyte.gz"
    (test_root / "t10k-labels-idx1-ubyte").write_bytes(read_idx_bytes(gz)[:-3])
    gz.unlink()
    with pytest.raises(ValueError, match="truncated.*10008 bytes.*has 10005"):
        MNIST(root=test_root, train=False, cache=False)


def test_missing_file_names_path_and_download(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=True") as info:
        MNIST(root=tmp_path, train=False)
    assert str(tmp_path / "t10k-images-idx3-ubyte.gz") in str(info.value)


# --- cache ---------------------------------------------------------------


def _cache_files(cache_dir):
    return sorted(cache_dir.glob("t10k-*.npy"))


def test_cache_round_trip(test_root, tmp_path, monkeypatch, test_set):
    cache_dir = tmp_path / "cache"
    MNIST(root=test_root, train=False, cache_dir=cache_dir)
    files = _cache_files(cache_dir)
    assert [f.name.split("-ubyte-")[0] for f in files] == ["t10k-images-idx3", "t10k-labels-idx1"]
    for f in files:
        name = f.name.split("-ubyte-")[0] + "-ubyte"
        assert mnist_mod.SHA256[name][:16] in f.name
    assert not list(cache_dir.glob("*.tmp"))

    def no_decoding(*args, **kwargs):
        raise AssertionError("a warm load must not decode the gzip files")

    monkeypatch.setattr(mnist_mod, "decompress_idx", no_decoding)
    warm = MNIST(root=test_root, train=False, cache_dir=cache_dir)
    np.testing.assert_array_equal(warm.images, test_set.images)
    np.testing.assert_array_equal(warm.labels, test_set.labels)
    assert warm.labels.dtype == np.int64


def _flip_last_byte(path):
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def _truncate(path):
    path.write_bytes(path.read_bytes()[:1000])


def _wrong_shape(path):
    np.save(path, np.zeros((10000, 28, 27), dtype=np.uint8))


@pytest.mark.parametrize("damage", [_flip_last_byte, _truncate, _wrong_shape])
def test_damaged_cache_is_detected_and_replaced(test_root, tmp_path, test_set, damage):
    cache_dir = tmp_path / "cache"
    MNIST(root=test_root, train=False, cache_dir=cache_dir)
    images_cache = _cache_files(cache_dir)[0]
    good = images_cache.read_bytes()
    damage(images_cache)
    assert images_cache.read_bytes() != good

    again = MNIST(root=test_root, train=False, cache_dir=cache_dir)
    np.testing.assert_array_equal(again.images, test_set.images)
    assert images_cache.read_bytes() == good
    assert not list(cache_dir.glob("*.tmp"))


def test_warm_cache_does_not_hide_a_corrupted_source(test_root, tmp_path):
    cache_dir = tmp_path / "cache"
    MNIST(root=test_root, train=False, cache_dir=cache_dir)
    _rewrite(test_root, "t10k-images-idx3-ubyte", lambda raw: raw.__setitem__(100, raw[100] ^ 1))
    with pytest.raises(ValueError, match="SHA-256"):
        MNIST(root=test_root, train=False, cache_dir=cache_dir)


def test_unwritable_cache_dir_is_skipped(test_root, tmp_path, test_set):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    ds = MNIST(root=test_root, train=False, cache_dir=blocker / "cache")
    np.testing.assert_array_equal(ds.labels, test_set.labels)


def test_cache_dir_default_and_environment(tmp_path, monkeypatch, test_root):
    monkeypatch.delenv("FASTGRAD_CACHE_DIR")
    assert mnist_mod.default_cache_dir() == mnist_mod.BUNDLED_ROOT.parent / "cache"
    monkeypatch.setenv("FASTGRAD_CACHE_DIR", str(tmp_path / "env-cache"))
    assert mnist_mod.default_cache_dir() == tmp_path / "env-cache"
    MNIST(root=test_root, train=False)
    assert len(_cache_files(tmp_path / "env-cache")) == 2
    MNIST(root=test_root, train=False, cache=False, cache_dir=tmp_path / "unused")
    assert not (tmp_path / "unused").exists()


# --- download (served from local bytes; never the network) ---------------


class FakeMirrors:
    """Serves the bundled .gz files for any mirror URL, optionally damaged per mirror."""

    def __init__(self, bad_mirrors=(), down_mirrors=()):
        self.bad = set(bad_mirrors)
        self.down = set(down_mirrors)
        self.urls = []

    def __call__(self, url, timeout=60.0):
        self.urls.append(url)
        base, filename = url.rsplit("/", 1)
        base += "/"
        if base in self.down:
            raise urllib.error.URLError("unreachable (fake)")
        blob = (mnist_mod.BUNDLED_ROOT / filename).read_bytes()
        if base in self.bad:
            raw = bytearray(gzip.decompress(blob))
            raw[-1] ^= 0x01
            blob = gzip.compress(bytes(raw), compresslevel=1)
        else:
            # A mirror's gzip bytes differ from ours; only the content is fixed.
            blob = gzip.compress(gzip.decompress(blob), compresslevel=1)
        return blob


def test_download_fetches_verifies_and_saves(tmp_path, monkeypatch, test_set):
    fake = FakeMirrors()
    monkeypatch.setattr(mnist_mod, "fetch_url", fake)
    root = tmp_path / "downloaded"
    ds = MNIST(root=root, train=False, download=True, cache=False)
    np.testing.assert_array_equal(ds.images, test_set.images)
    np.testing.assert_array_equal(ds.labels, test_set.labels)
    assert sorted(p.name for p in root.iterdir()) == [f"{n}.gz" for n in TEST_FILES]
    assert all(url.startswith(mnist_mod.MIRRORS[0]) for url in fake.urls)
    # Present files are not fetched again.
    MNIST(root=root, train=False, download=True, cache=False)
    assert len(fake.urls) == 2


def test_download_skips_a_mirror_with_bad_content(tmp_path, monkeypatch, test_set):
    fake = FakeMirrors(bad_mirrors=[mnist_mod.MIRRORS[0]], down_mirrors=[mnist_mod.MIRRORS[1]])
    monkeypatch.setattr(mnist_mod, "fetch_url", fake)
    ds = MNIST(root=tmp_path, train=False, download=True, cache=False)
    np.testing.assert_array_equal(ds.labels, test_set.labels)
    assert fake.urls[2].startswith(mnist_mod.MIRRORS[2])
    saved = read_idx_bytes(tmp_path / "t10k-labels-idx1-ubyte.gz")
    assert hashlib.sha256(saved).hexdigest() == mnist_mod.SHA256["t10k-labels-idx1-ubyte"]


def test_download_with_only_bad_mirrors_raises_value_error(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_mod, "fetch_url", FakeMirrors(bad_mirrors=mnist_mod.MIRRORS))
    with pytest.raises(ValueError, match=mnist_mod.SHA256["t10k-images-idx3-ubyte"]):
        MNIST(root=tmp_path, train=False, download=True, cache=False)
    assert not list(tmp_path.iterdir())


def test_download_with_no_network_raises_connection_error(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_mod, "fetch_url", FakeMirrors(down_mirrors=mnist_mod.MIRRORS))
    with pytest.raises(ConnectionError, match="t10k-images-idx3-ubyte.gz from any mirror"):
        MNIST(root=tmp_path, train=False, download=True, cache=False)


def test_download_replaces_a_corrupted_local_file(test_root, monkeypatch, test_set):
    _rewrite(test_root, "t10k-labels-idx1-ubyte", lambda raw: raw.__setitem__(-1, raw[-1] ^ 1))
    fake = FakeMirrors()
    monkeypatch.setattr(mnist_mod, "fetch_url", fake)
    ds = MNIST(root=test_root, train=False, download=True, cache=False)
    np.testing.assert_array_equal(ds.labels, test_set.labels)
    assert [url.rsplit("/", 1)[1] for url in fake.urls] == ["t10k-labels-idx1-ubyte.gz"]
    assert MNIST(root=test_root, train=False, cache=False).labels.tolist() == test_set.labels.tolist()
