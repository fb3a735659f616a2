"""IDX reader/writer: round trips, hand-built headers and every corruption case."""

import gzip
import struct

import numpy as np
import pytest

from fastgrad.data.idx import encode_idx, read_idx, write_idx

DTYPE_CODES = {
    np.uint8: 0x08,
    np.int8: 0x09,
    np.int16: 0x0B,
    np.int32: 0x0C,
    np.float32: 0x0D,
    np.float64: 0x0E,
}


def _sample(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype", list(DTYPE_CODES))
@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 5), (0, 4)])
def test_round_trip(tmp_path, dtype, shape, compress):
    arr = _sample(dtype, shape)
    path = tmp_path / "a.idx"
    write_idx(path, arr, compress=compress)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == compress
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    assert back.shape == shape
    np.testing.assert_array_equal(back, arr)
    assert back.flags.writeable


def test_big_endian_input_is_written_correctly(tmp_path):
    arr = np.arange(5, dtype=">i4")
    write_idx(tmp_path / "b.idx", arr)
    np.testing.assert_array_equal(read_idx(tmp_path / "b.idx"), np.arange(5))


@pytest.mark.parametrize("dtype,code", list(DTYPE_CODES.items()))
def test_hand_built_header(tmp_path, dtype, code):
    values = np.array([[1, 2, 3], [-4, 5, 6]] if np.dtype(dtype).kind != "u" else [[1, 2, 3], [4, 5, 250]])
    big = values.astype(np.dtype(dtype).newbyteorder(">"))
    data = bytes([0x00, 0x00, code, 0x02]) + b"\x00\x00\x00\x02" + b"\x00\x00\x00\x03" + big.tobytes()
    path = tmp_path / "hand.idx"
    path.write_bytes(data)
    got = read_idx(path)
    assert got.shape == (2, 3) and got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, values.astype(dtype))
    assert encode_idx(got) == data


def test_gzip_is_detected_by_magic_not_name(tmp_path):
    arr = np.arange(10, dtype=np.uint8)
    raw_named_gz = tmp_path / "raw.gz"
    raw_named_gz.write_bytes(encode_idx(arr))
    gz_named_raw = tmp_path / "compressed.idx"
    gz_named_raw.write_bytes(gzip.compress(encode_idx(arr)))
    np.testing.assert_array_equal(read_idx(raw_named_gz), arr)
    np.testing.assert_array_equal(read_idx(gz_named_raw), arr)


GOOD = bytes([0, 0, 0x08, 1]) + struct.pack(">i", 4) + bytes([1, 2, 3, 4])

CORRUPTIONS = {
    "bad magic": (b"\x01" + GOOD[1:], r"bad IDX magic.*01 00"),
    "second magic byte": (b"\x00\x07" + GOOD[2:], r"bad IDX magic.*00 07"),
    "bad dtype code": (GOOD[:2] + b"\x0a" + GOOD[3:], r"unknown IDX dtype code 0x0A"),
    "zero dimensions": (GOOD[:3] + b"\x00" + GOOD[4:], r"0 dimensions"),
    "truncated header": (GOOD[:6], r"truncated IDX header.*8 header bytes.*has 6"),
    "shorter than magic": (b"\x00\x00", r"at least 4 bytes.*has 2"),
    "truncated data": (GOOD[:-1], r"truncated.*needs 12 bytes.*has 11"),
    "trailing bytes": (GOOD + b"\x00\x00", r"trailing bytes.*needs 12 bytes.*has 14"),
    "negative dimension": (GOOD[:4] + struct.pack(">i", -1) + GOOD[8:], r"negative dimension"),
}


def read_idx_ok(tmp_path, data, compress):
    """The uncorrupted bytes read fine, so each failure is due to its corruption."""
    path = tmp_path / "good.idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    return read_idx(path).tolist() == [1, 2, 3, 4]


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_corruptions_raise_value_error_naming_file(tmp_path, case, compress):
    data, pattern = CORRUPTIONS[case]
    assert read_idx_ok(tmp_path, GOOD, compress)
    path = tmp_path / f"broken-{case.replace(' ', '_')}.idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(ValueError, match=pattern) as info:
        read_idx(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("cut", [5, 12, -9, -1])
def test_truncated_gzip_stream(tmp_path, cut):
    blob = gzip.compress(encode_idx(_sample(np.float32, (50, 20))))
    path = tmp_path / "cut.gz"
    path.write_bytes(blob[:cut])
    with pytest.raises(ValueError, match="gzip") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_corrupt_gzip_crc(tmp_path):
    blob = bytearray(gzip.compress(encode_idx(np.arange(100, dtype=np.int16))))
    blob[-6] ^= 0xFF  # inside the CRC32 trailer
    path = tmp_path / "crc.gz"
    path.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="gzip") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.idx"):
        read_idx(tmp_path / "nope.idx")


def test_write_rejects_unsupported_arrays(tmp_path):
    with pytest.raises(TypeError, match="int64"):
        write_idx(tmp_path / "x", np.arange(3, dtype=np.int64))
    with pytest.raises(ValueError, match=r"shape \(\)"):
        write_idx(tmp_path / "x", np.float32(1.0))
    assert not (tmp_path / "x").exists()
