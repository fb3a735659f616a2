"""Reading and writing IDX files, the array format MNIST is distributed in.

Layout (all integers big-endian)::

    byte 0-1   0x00 0x00
    byte 2     dtype code (see ``IDX_DTYPES``)
    byte 3     number of dimensions d >= 1
    4 * d      dimension sizes as int32
    rest       the data, row-major, big-endian, exactly prod(dims) items

Files may be gzip-compressed; compression is recognised by the gzip magic
bytes, never by the file name, so a renamed file still reads correctly.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

__all__ = [
    "IDX_DTYPES",
    "read_idx",
    "read_idx_bytes",
    "decompress_idx",
    "parse_idx",
    "idx_header",
    "encode_idx",
    "write_idx",
]

#: IDX dtype code -> big-endian numpy dtype of the stored items.
IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"
_MAX_DIM = 2**31 - 1  # dimension sizes are stored as signed int32


def read_idx_bytes(path) -> bytes:
    """Return the uncompressed IDX bytes of the file at ``path``.

    Raises FileNotFoundError when the file is missing and ValueError naming
    the file when its gzip stream is truncated or corrupt.
    """
    return decompress_idx(Path(path).read_bytes(), name=str(path))


def decompress_idx(data: bytes, name="<bytes>") -> bytes:
    """Gunzip ``data`` if it starts with the gzip magic bytes 1f 8b, else return it.

    ``name`` (a path or URL) is used in the ValueError raised for a truncated
    or corrupt gzip stream.
    """
    if data[:2] != _GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    # EOFError: stream cut short; BadGzipFile (an OSError): bad header or CRC;
    # zlib.error: damaged deflate data.
    except (EOFError, OSError, zlib.error) as exc:
        raise ValueError(f"{name}: corrupt or truncated gzip stream ({exc})") from exc


def parse_idx(data: bytes, name="<bytes>") -> np.ndarray:
    """Decode uncompressed IDX bytes into a native-endian ndarray.

    Parameters
    ----------
    data : bytes-like
        The whole IDX content (header and data).
    name : str
        Used in error messages, normally the file path.

    Returns
    -------
    ndarray of shape ``dims`` from the header, dtype one of uint8, int8,
    int16, int32, float32, float64 in native byte order; a fresh writable
    array that does not share memory with ``data``.
    """
    data = memoryview(data).cast("B")
    if len(data) < 4:
        raise ValueError(f"{name}: IDX header needs at least 4 bytes, file has {len(data)}")
    if data[0] != 0 or data[1] != 0:
        raise ValueError(
            f"{name}: bad IDX magic, the first two bytes must be 00 00, "
            f"got {data[0]:02x} {data[1]:02x}"
        )
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise ValueError(f"{name}: unknown IDX dtype code 0x{code:02X} (known: {known})")
    if ndim < 1:
        raise ValueError(f"{name}: IDX header declares {ndim} dimensions, need at least 1")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise ValueError(
            f"{name}: truncated IDX header, {ndim} dimensions need {header_len} "
            f"header bytes, file has {len(data)}"
        )
    dims = struct.unpack(f">{ndim}i", data[4:header_len])
    if any(d < 0 for d in dims):
        raise ValueError(f"{name}: negative dimension size in IDX header {dims}")
    dtype = IDX_DTYPES[code]
    expected = header_len + math.prod(dims) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "trailing bytes after the data"
        raise ValueError(
            f"{name}: {what}: header {dims} of {dtype.name} needs {expected} bytes "
            f"in total, file has {len(data)}"
        )
    flat = np.frombuffer(data, dtype=dtype, offset=header_len)
    # astype copies, which both fixes the byte order and detaches the result
    # from the (read-only) input buffer.
    return flat.astype(dtype.newbyteorder("="), copy=True).reshape(dims)


def read_idx(path) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) into a native-endian ndarray.

    Returns an array of the shape stored in the header and the dtype given by
    the header's dtype code (uint8, int8, int16, int32, float32 or float64).
    Raises FileNotFoundError if ``path`` does not exist and ValueError naming
    the file for any malformed header, wrong byte count or broken gzip stream.
    """
    return parse_idx(read_idx_bytes(path), name=str(path))


def idx_header(dtype, shape) -> bytes:
    """Return the IDX header (magic and dimension sizes) for an array of this dtype and shape.

    ``dtype`` must be one of uint8, int8, int16, int32, float32, float64 in
    any byte order (else TypeError); ``shape`` needs 1 to 255 dimensions,
    each < 2**31 (else ValueError).
    """
    native = np.dtype(dtype).newbyteorder("=")
    for code, stored in IDX_DTYPES.items():
        if stored.newbyteorder("=") == native:
            break
    else:
        raise TypeError(
            f"IDX cannot store dtype {np.dtype(dtype)}; use one of "
            "uint8, int8, int16, int32, float32, float64"
        )
    shape = tuple(int(d) for d in shape)
    if len(shape) < 1 or len(shape) > 255:
        raise ValueError(f"IDX needs 1 to 255 dimensions, array has shape {shape}")
    if any(d > _MAX_DIM for d in shape):
        raise ValueError(f"IDX dimension sizes must fit in int32, array has shape {shape}")
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}i", *shape)


def encode_idx(array) -> bytes:
    """Return the uncompressed IDX bytes (header and data) for ``array``.

    ``array`` must have at least one dimension and one of the dtypes uint8,
    int8, int16, int32, float32, float64 (any byte order); otherwise
    TypeError / ValueError.
    """
    array = np.asarray(array)
    header = idx_header(array.dtype, array.shape)
    stored = IDX_DTYPES[header[2]]
    return header + np.ascontiguousarray(array, dtype=stored).tobytes()


def write_idx(path, array, compress: bool = False) -> None:
    """Write ``array`` to ``path`` as an IDX file, gzip-compressed if ``compress``.

    The file is written to a temporary name next to ``path`` and then renamed,
    so a crash never leaves a half-written file under the final name.
    """
    data = encode_idx(array)
    if compress:
        # mtime=0 keeps the output byte-identical across runs.
        data = gzip.compress(data, mtime=0)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
