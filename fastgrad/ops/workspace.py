"""Scratch buffers that a layer reuses from step to step instead of reallocating.

A ``Workspace`` belongs to one layer (``nn.Conv2d`` keeps one), so there is no global state.
A buffer is *taken* by a forward pass and *given back* when the node that saved it is
released after its backward, or at once when no graph is recorded; a buffer that is still
held by a pending node is never handed out twice.

Buffers are kept per *slot*, the index of the chunk of the batch that uses them: chunk i runs
on the same thread from step to step, and so gets back the buffer that thread wrote last.
Why: when the host puts the two cores far apart, writing lines the other core wrote last
costs 3x (docs/performance.md, "Cores that share no cache"); a pool shared by the chunks
handed each chunk the other's buffer at every step.
"""
import numpy as np


class Workspace:
    def __init__(self):
        self._free = {}

    def take(self, shape, dtype, slot=0):
        """An uninitialised C-contiguous array of ``shape`` and ``dtype``: the last one given
        back for ``slot`` when there is one."""
        key = (tuple(shape), np.dtype(dtype), slot)
        free = self._free.get(key)
        if free:
            return free.pop()
        return np.empty(shape, dtype=dtype)

    def give_back(self, arr, slot=0):
        """Return ``arr`` to the pool of ``slot``; the caller must no longer use it."""
        self._free.setdefault((arr.shape, arr.dtype, slot), []).append(arr)

    def __getstate__(self):  # scratch, not state: a copied or pickled layer starts empty
        return {"_free": {}}

    def clear(self):
        self._free.clear()


class _NoWorkspace:
    """Allocates every time (the functional API without a layer's workspace)."""

    @staticmethod
    def take(shape, dtype, slot=0):
        return np.empty(shape, dtype=dtype)

    @staticmethod
    def give_back(arr, slot=0):
        pass


NO_WORKSPACE = _NoWorkspace()
