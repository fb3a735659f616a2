"""The MNIST handwritten digits, bundled with fastgrad and verified on load.

MNIST is by Yann LeCun, Corinna Cortes and Christopher J.C. Burges and is
distributed under CC BY-SA 3.0 (see ``fastgrad/data/mnist_files/README.md``).

Every load checks the SHA-256 of the *uncompressed* IDX content, because the
gzip bytes differ between copies (bundled, each mirror) while the content
does not.  Decoding the gzip costs a few hundred milliseconds, so the decoded
arrays are cached as ``.npy`` files whose names carry the content hash and
the source file's hash; a cache file is only used when its bytes hash to the
expected content again, so a stale or damaged cache can never leak through.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

from .idx import decompress_idx, idx_header, parse_idx

__all__ = [
    "MNIST",
    "load_mnist",
    "mnist_transform",
    "MNIST_MEAN",
    "MNIST_STD",
    "BUNDLED_ROOT",
    "default_cache_dir",
]

BUNDLED_ROOT = Path(__file__).parent / "mnist_files"
_DEFAULT_CACHE = Path(__file__).parent / "cache"
CACHE_ENV_VAR = "FASTGRAD_CACHE_DIR"

#: SHA-256 of the uncompressed IDX files (as listed in the bundled README).
SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

#: Public copies of the original gzip files, tried in order.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

#: Mean and standard deviation of the training pixels scaled to [0, 1].
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081

_SPLITS = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60000),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10000),
}
_IMAGE_MAGIC, _LABEL_MAGIC = 2051, 2049
_SIDE = 28


def default_cache_dir() -> Path:
    """The decoded-array cache: ``$FASTGRAD_CACHE_DIR`` if set, else ``fastgrad/data/cache``."""
    env = os.environ.get(CACHE_ENV_VAR)
    return Path(env) if env else _DEFAULT_CACHE


def fetch_url(url: str, timeout: float = 60.0) -> bytes:
    """Return the body of ``url``.  Module-level so tests can replace it."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def _sha256(*chunks) -> str:
    h = hashlib.sha256()
    for chunk in chunks:
        h.update(chunk)
    return h.hexdigest()


def _check_content(raw: bytes, name: str, count: int, where: str) -> np.ndarray:
    """Parse and verify one uncompressed MNIST IDX file; return its uint8 array.

    ``where`` (a path or URL) is named in every ValueError.
    """
    is_images = "images" in name
    arr = parse_idx(raw, name=where)
    magic = int.from_bytes(raw[:4], "big")
    want_magic = _IMAGE_MAGIC if is_images else _LABEL_MAGIC
    want_shape = (count, _SIDE, _SIDE) if is_images else (count,)
    if magic != want_magic:
        raise ValueError(f"{where}: IDX magic {magic}, expected {want_magic} for {name}")
    if arr.shape != want_shape:
        raise ValueError(f"{where}: shape {arr.shape} in the header, expected {want_shape} for {name}")
    actual = _sha256(raw)
    if actual != SHA256[name]:
        raise ValueError(
            f"{where}: SHA-256 of the uncompressed content is {actual}, "
            f"expected {SHA256[name]} for {name}; the file is corrupt or not MNIST"
        )
    return arr


def _locate(root: Path, name: str) -> Path | None:
    for candidate in (root / f"{name}.gz", root / name):
        if candidate.is_file():
            return candidate
    return None


def _write_atomically(path: Path, write) -> None:
    """Create ``path`` via a temporary file in the same directory and ``os.replace``.

    Readers therefore see either the old file or the complete new one.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; data files are not secret
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _download(root: Path, name: str, count: int) -> Path:
    """Fetch ``name``.gz from the first mirror whose content verifies; save it in ``root``."""
    errors = []
    bad_content = False
    for base in MIRRORS:
        url = f"{base}{name}.gz"
        try:
            blob = fetch_url(url)
        except Exception as exc:  # noqa: BLE001 - any network failure means: try the next mirror
            errors.append(f"{url}: {type(exc).__name__}: {exc}")
            continue
        try:
            _check_content(decompress_idx(blob, name=url), name, count, url)
        except ValueError as exc:
            errors.append(str(exc))
            bad_content = True
            continue
        root.mkdir(parents=True, exist_ok=True)
        target = root / f"{name}.gz"
        _write_atomically(target, lambda f: f.write(blob))
        return target
    summary = f"could not download {name}.gz from any mirror:\n  " + "\n  ".join(errors)
    # A mirror serving wrong data is a data problem; otherwise it is the network.
    raise ValueError(summary) if bad_content else ConnectionError(summary)


def _read_cache(path: Path, name: str, shape: tuple) -> np.ndarray | None:
    """The cached array if it has the right shape, dtype and content hash, else None."""
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if arr.dtype != np.uint8 or arr.shape != shape or not arr.flags.c_contiguous:
        return None
    # The IDX content is the header plus the raw bytes, so the cache can be
    # checked against the very same hash as the source file.
    if _sha256(idx_header(arr.dtype, arr.shape), arr.data) != SHA256[name]:
        return None
    return arr


def _write_cache(path: Path, arr: np.ndarray) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(path, lambda f: np.save(f, arr, allow_pickle=False))
    except OSError:
        pass  # a read-only cache location only costs speed


def _load_file(root: Path, name: str, count: int, download: bool, cache_dir: Path | None) -> np.ndarray:
    """Return the verified uint8 array of one MNIST IDX file (see MNIST for the rules)."""
    path = _locate(root, name)
    if path is None:
        if not download:
            hint = (
                "the bundled copy is missing, reinstall fastgrad"
                if root.resolve() == BUNDLED_ROOT.resolve()
                else "pass download=True to fetch it from a public mirror"
            )
            raise FileNotFoundError(f"MNIST file not found: {root / (name + '.gz')} ({hint})")
        path = _download(root, name, count)

    source = path.read_bytes()
    shape = (count, _SIDE, _SIDE) if "images" in name else (count,)
    cache_file = None
    if cache_dir is not None:
        cache_file = cache_dir / f"{name}-{SHA256[name][:16]}-{_sha256(source)[:16]}.npy"
        cached = _read_cache(cache_file, name, shape)
        if cached is not None:
            return cached

    try:
        arr = _check_content(decompress_idx(source, name=str(path)), name, count, str(path))
    except ValueError:
        if not download:
            raise
        # A damaged local copy is replaced when the caller allowed downloads.
        path = _download(root, name, count)
        return _load_file(root, name, count, False, cache_dir)
    if cache_file is not None:
        _write_cache(cache_file, arr)
    return arr


class MNIST:
    """MNIST train (60000) or test (10000) split as NumPy arrays.

    Parameters
    ----------
    root : path, optional
        Folder holding the four ``*-ubyte.gz`` files (uncompressed files
        without ``.gz`` are accepted too).  None: the copy bundled in
        ``fastgrad/data/mnist_files``.
    train : bool
        The 60000-image training split, or the 10000-image test split.
    download : bool
        Fetch missing (or corrupt) files from public mirrors into ``root``.
    cache : bool
        Keep a decoded ``.npy`` copy to skip the gzip decoding next time.
    cache_dir : path, optional
        Where; default ``default_cache_dir()`` (``$FASTGRAD_CACHE_DIR`` or
        ``fastgrad/data/cache``).  An unwritable folder just disables caching.

    Attributes
    ----------
    images : uint8 ndarray, shape (N, 28, 28), pixel values 0..255
    labels : int64 ndarray, shape (N,), digits 0..9

    Raises FileNotFoundError naming the missing file, and ValueError naming
    the file and the expected and actual SHA-256 (or header field) when the
    content is not the genuine MNIST.
    """

    def __init__(self, root=None, train=True, download=False, cache=True, cache_dir=None):
        self.root = BUNDLED_ROOT if root is None else Path(root)
        self.train = bool(train)
        if cache:
            cache_dir = default_cache_dir() if cache_dir is None else Path(cache_dir)
        else:
            cache_dir = None
        images_name, labels_name, count = _SPLITS[self.train]
        images = _load_file(self.root, images_name, count, download, cache_dir)
        labels = _load_file(self.root, labels_name, count, download, cache_dir)
        if len(images) != len(labels):  # guaranteed by the hashes; kept as a cheap invariant
            raise ValueError(f"{len(images)} images but {len(labels)} labels in {self.root}")
        self.images = images
        self.labels = labels.astype(np.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index):
        """``(image, label)``: a (28, 28) uint8 array and an int64 for an int index;
        (B, 28, 28) and (B,) arrays for a slice or an index array."""
        return self.images[index], self.labels[index]

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``(images, labels)``: uint8 (N, 28, 28) and int64 (N,), shared, not copied."""
        return self.images, self.labels

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return f"MNIST(split={split!r}, n={len(self)}, root={str(self.root)!r})"


def load_mnist(train=True, root=None, download=False) -> tuple[np.ndarray, np.ndarray]:
    """``(images, labels)`` of one split: uint8 (N, 28, 28) and int64 (N,)."""
    return MNIST(root=root, train=train, download=download).arrays()


# (x / 255 - mean) / std folded into one multiply-add, done in place in float32.
_SCALE = np.float32(1.0 / (255.0 * MNIST_STD))
_SHIFT = np.float32(-MNIST_MEAN / MNIST_STD)


def mnist_transform(images, add_channel: bool = False) -> np.ndarray:
    """Scale uint8 images to [0, 1] and standardise with the MNIST mean and std.

    ``images``: uint8 array of shape (..., 28, 28), e.g. a batch (B, 28, 28).
    Returns float32 of the same shape, or with a channel axis inserted before
    the last two axes if ``add_channel`` ((B, 1, 28, 28) for CNNs).  Use
    ``functools.partial(mnist_transform, add_channel=True)`` as a DataLoader
    transform.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"mnist_transform expects uint8 images, got dtype {images.dtype}")
    out = images.astype(np.float32)
    out *= _SCALE
    out += _SHIFT
    return np.expand_dims(out, -3) if add_channel else out
