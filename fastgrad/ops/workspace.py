"""Scratch buffers that a layer reuses from step to step instead of reallocating.

A ``Workspace`` belongs to one layer (``nn.Conv2d`` keeps one), so there is no global state.
A buffer is *taken* by a forward pass and *given back* when the node that saved it is
released after its backward, or at once when no graph is recorded; a buffer that is still
held by a pending node is never handed out twice.
"""
import numpy as np


class Workspace:
    def __init__(self):
        self._free = {}

    def take(self, shape, dtype):
        """An uninitialised C-contiguous array of ``shape`` and ``dtype`` (reused when one is free)."""
        key = (tuple(shape), np.dtype(dtype))
        free = self._free.get(key)
        if free:
            return free.pop()
        return np.empty(shape, dtype=dtype)

    def give_back(self, arr):
        """Return ``arr`` to the pool; the caller must no longer use it."""
        self._free.setdefault((arr.shape, arr.dtype), []).append(arr)

    def clear(self):
        self._free.clear()


class _NoWorkspace:
    """Allocates every time (the functional API without a layer's workspace)."""

    @staticmethod
    def take(shape, dtype):
        return np.empty(shape, dtype=dtype)

    @staticmethod
    def give_back(arr):
        pass


NO_WORKSPACE = _NoWorkspace()
