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

A layer's *outputs* come from it too (``take_output``): arrays that leave the layer, and are
reused only once nothing else refers to them. For the same reason: a fresh array from the
allocator is memory that any thread, often the other one, wrote last; the array this layer
returned at the last step had each chunk's part written by that chunk's thread.
"""
import sys

import numpy as np

# Outputs kept per (shape, dtype): enough for the graphs of a few steps held at once (a
# retained graph, a list of eval outputs); more are allocated and not kept.
_KEPT_OUTPUTS = 4


class Workspace:
    def __init__(self):
        self._free = {}
        self._outputs = {}

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

    def take_output(self, shape, dtype):
        """An uninitialised C-contiguous array of ``shape`` and ``dtype`` for an output that
        leaves the layer: one it returned before that nothing refers to any more (no tensor,
        view or buffer: the reference count says so), else a new one."""
        key = (tuple(shape), np.dtype(dtype))
        kept = self._outputs.setdefault(key, [])
        for _ in range(len(kept)):
            # Taken out of the list and put back before it is checked: another thread that
            # looks at it meanwhile counts this thread's reference too (no lock: a layer
            # must stay picklable).
            try:
                candidate = kept.pop(0)
            except IndexError:
                break
            kept.append(candidate)
            if sys.getrefcount(candidate) == 3:  # the list, ``candidate``, the argument
                return candidate
        out = np.empty(shape, dtype=dtype)
        if len(kept) < _KEPT_OUTPUTS:
            kept.append(out)
        return out

    def __getstate__(self):  # scratch, not state: a copied or pickled layer starts empty
        return {"_free": {}, "_outputs": {}}

    def clear(self):
        self._free.clear()
        self._outputs.clear()


class _NoWorkspace:
    """Allocates every time (the functional API without a layer's workspace)."""

    @staticmethod
    def take(shape, dtype, slot=0):
        return np.empty(shape, dtype=dtype)

    @staticmethod
    def give_back(arr, slot=0):
        pass

    @staticmethod
    def take_output(shape, dtype):
        return np.empty(shape, dtype=dtype)


NO_WORKSPACE = _NoWorkspace()
