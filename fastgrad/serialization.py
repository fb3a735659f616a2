"""``fastgrad.save`` / ``fastgrad.load``: a flat state dict as a ``.safetensors`` file (the format
PyTorch and Hugging Face users share) or an ``.npz`` file. Neither format holds pickled
objects, so loading a file runs no code from it.

The format follows the file name: ``.safetensors`` for safetensors, anything else for npz.
Key names and layouts are PyTorch's (``conv1.weight`` is (out, in, kh, kw), ``fc1.weight`` is
(out, in)), so a file written here loads into the equivalent ``torch.nn`` model with
``load_state_dict(safetensors.torch.load_file(path))`` and a PyTorch file loads here.
"""
import collections
import hashlib
import json
import os
import struct
import tempfile

import numpy as np

from fastgrad.autograd.tensor import Tensor

# Metadata key of the digest fastgrad writes into its safetensors files: safetensors checks the
# header's offsets but not the data, so a changed byte would otherwise load silently.
_DIGEST_KEY = "fastgrad.sha256"


def _is_safetensors(path):
    return os.fspath(path).endswith(".safetensors")


def _arrays(state_dict):
    """{name: ndarray} from {name: Tensor, ndarray or number}, refusing anything else."""
    arrays = {}
    for key, value in state_dict.items():
        if not isinstance(key, str):
            raise TypeError(f"state dict keys must be strings, got {key!r}")
        if isinstance(value, Tensor):
            value = value.arr
        elif not isinstance(value, (np.ndarray, int, float, bool)):
            raise TypeError(f"cannot save {key!r}: expected a Tensor or an array, got {type(value).__name__}")
        arrays[key] = np.asarray(value)
    return arrays


def _digest(arrays):
    """sha256 over each array's name, dtype, shape and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        arr = arrays[name]
        h.update(json.dumps([name, arr.dtype.str, list(arr.shape)]).encode())
        h.update(arr.tobytes(order="C"))
    return h.hexdigest()


def _write_atomically(path, write):
    """Call ``write(file)`` on a temporary file beside ``path``, renamed over it when complete,
    so an interrupted save never leaves a partial file in place of a good one."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".fastgrad-save-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save(state_dict, path):
    """Write {name: Tensor or ndarray} to ``path`` atomically, as safetensors when the name ends
    in ``.safetensors`` (little-endian, C order, with a digest fastgrad checks on load) and as
    ``.npz`` otherwise."""
    arrays = _arrays(state_dict)
    if not _is_safetensors(path):
        _write_atomically(path, lambda f: np.savez(f, **arrays))
        return
    from safetensors.numpy import save as safetensors_bytes

    # safetensors stores little-endian C-order data; "format": "pt" is what Hugging Face's
    # loaders expect of a PyTorch checkpoint.
    arrays = {k: np.require(a, a.dtype.newbyteorder("<"), "C") for k, a in arrays.items()}
    data = safetensors_bytes(arrays, metadata={"format": "pt", _DIGEST_KEY: _digest(arrays)})
    _write_atomically(path, lambda f: f.write(data))


def _safetensors_metadata(data):
    """The ``__metadata__`` of a safetensors file that safetensors has already validated."""
    (header_size,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + header_size]).get("__metadata__") or {}


def _load_safetensors(path):
    from safetensors import SafetensorError
    from safetensors.numpy import load as safetensors_load

    with open(path, "rb") as f:
        data = f.read()
    try:
        arrays = safetensors_load(data)
    except SafetensorError as exc:
        raise RuntimeError(f"{path} is not a valid safetensors file (truncated or damaged?): "
                           f"{exc}") from None
    expected = _safetensors_metadata(data).get(_DIGEST_KEY)
    if expected is not None and _digest(arrays) != expected:
        raise RuntimeError(f"{path} was changed after fastgrad saved it: its tensors do not "
                           f"match the sha256 digest stored in its metadata")
    # The format keeps no key order (its writer lays tensors out by dtype, then name): by name.
    return [(key, arrays[key]) for key in sorted(arrays)]


def load(path):
    """Read a state dict written by ``save`` (or by PyTorch's safetensors): an ordered
    {name: Tensor}. A truncated or changed file raises RuntimeError before anything is
    returned, so a model that would load it is left as it was."""
    path = os.fspath(path)
    if _is_safetensors(path):
        items = _load_safetensors(path)
    else:
        with np.load(path, allow_pickle=False) as data:
            items = [(key, data[key]) for key in data.files]
    return collections.OrderedDict((key, Tensor._wrap(arr)) for key, arr in items)
