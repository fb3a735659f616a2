"""``default_collate``: a list of samples -> one batch, as ``torch.utils.data.default_collate``.

By the type of the first sample: Tensors are stacked; NumPy arrays and NumPy scalars become
tensors of their own dtype, stacked; Python floats a float64 tensor, ints an int64 tensor,
bools a bool tensor; strings stay a list; dicts are collated per key, named tuples per
field, and other sequences per position (a tuple of fields gives a *list* of batches, as
PyTorch does). ``default_convert`` is the per-sample version used without batching.
"""
import collections.abc

import numpy as np

__all__ = ["default_collate", "default_convert"]


def _numeric(arr, what):
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts "
                        f"or lists; found {what} of dtype {arr.dtype}")
    return arr


def default_collate(batch):
    from fastgrad.autograd.tensor import Tensor
    from fastgrad.ops import stack

    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(list(batch), 0)
    if isinstance(elem, (np.ndarray, np.generic)) and not isinstance(elem, (np.str_, np.bytes_)):
        return Tensor._wrap(_numeric(np.stack([np.asarray(b) for b in batch]), type(elem).__name__))
    if isinstance(elem, bool):
        return Tensor._wrap(np.array(batch, dtype=np.bool_))
    if isinstance(elem, float):
        return Tensor._wrap(np.array(batch, dtype=np.float64))
    if isinstance(elem, int):
        return Tensor._wrap(np.array(batch, dtype=np.int64))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        collated = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            return type(elem)(collated)  # keeps an OrderedDict or a dict subclass
        except TypeError:
            return collated
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a named tuple
        return type(elem)(*(default_collate(list(field)) for field in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(b) != size for b in batch):
            raise RuntimeError(f"each element in list of batch should be of equal size, got sizes "
                               f"{sorted({len(b) for b in batch})}")
        return [default_collate(list(field)) for field in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
                    f"lists; found {type(elem)}")


def default_convert(data):
    """One sample's NumPy arrays made tensors (in containers too); everything else as is."""
    from fastgrad.autograd.tensor import Tensor

    if isinstance(data, np.ndarray) and data.dtype.kind in "biuf":
        return Tensor._wrap(data)
    if isinstance(data, collections.abc.Mapping):
        return {key: default_convert(value) for key, value in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, (list, tuple)):
        return type(data)(default_convert(d) for d in data)
    return data
