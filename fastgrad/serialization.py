"""``fastgrad.save`` / ``fastgrad.load``: a flat state dict as an ``.npz`` file (no pickle)."""
import collections
import os
import tempfile

import numpy as np

from fastgrad.autograd.tensor import Tensor


def save(state_dict, path):
    """Write {name: Tensor or ndarray} to ``path`` atomically.

    The file is written beside the target and renamed over it only when complete, so an
    interrupted save never leaves a partial file in place of a good one.
    """
    arrays = {}
    for key, value in state_dict.items():
        if not isinstance(key, str):
            raise TypeError(f"state dict keys must be strings, got {key!r}")
        if isinstance(value, Tensor):
            value = value.arr
        elif not isinstance(value, (np.ndarray, int, float, bool)):
            raise TypeError(f"cannot save {key!r}: expected a Tensor or an array, got {type(value).__name__}")
        arrays[key] = np.asarray(value)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".fastgrad-save-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path):
    """Read a file written by ``save``: an ordered {name: Tensor}."""
    with np.load(os.fspath(path), allow_pickle=False) as data:
        return collections.OrderedDict((key, Tensor._wrap(data[key])) for key in data.files)
