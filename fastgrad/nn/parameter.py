"""``Parameter``: a Tensor that a Module registers as trainable (requires grad by default)."""
import numpy as np

from fastgrad.autograd.tensor import Tensor


class Parameter(Tensor):
    """``Parameter(data, requires_grad=True)``; keeps the dtype of a Tensor or ndarray it wraps."""

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.empty(0, dtype=np.float32)
        if isinstance(data, Tensor):
            data = data.arr
        dtype = data.dtype if isinstance(data, np.ndarray) else None
        super().__init__(data, dtype=dtype, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
