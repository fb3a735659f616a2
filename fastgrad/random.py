"""Random number generators: ``Generator`` (PyTorch's ``torch.Generator``) and the global one
behind randn / rand / init / dropout / shuffling.

A ``Generator`` *is* a ``numpy.random.Generator`` (on PCG64) with PyTorch's seeding methods
added, so every sampler that takes ``generator=`` accepts it and draws NumPy's streams. The
global generator is one such object, reseeded in place by ``manual_seed``, so references to
it stay valid. It starts from fresh entropy (PyTorch starts from a fixed seed): unseeded runs
differ, seeded runs repeat.
"""
import os

import numpy as np

__all__ = ["Generator", "manual_seed", "seed", "initial_seed", "get_rng_state", "set_rng_state",
           "default_generator"]

# The seed of a new torch.Generator.
_DEFAULT_SEED = 67280421310721
_MAX_SEED = 0xFFFF_FFFF_FFFF_FFFF
# get_state layout: PCG64 state and increment (16 bytes each), has_uint32 and uinteger
# (8 bytes each), the initial seed (8 bytes); little-endian.
_STATE_FIELDS = (("state", 16), ("inc", 16), ("has_uint32", 8), ("uinteger", 8), ("seed", 8))
_STATE_SIZE = sum(size for _, size in _STATE_FIELDS)


def _check_seed(seed):
    """``seed`` as an int in [0, 2**64): PyTorch's range, negative seeds wrapped as it does."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, (bool, np.bool_)):
        raise TypeError(f"manual_seed expects an int, got {type(seed).__name__}")
    seed = int(seed)
    if not -0x8000_0000_0000_0000 <= seed <= _MAX_SEED:
        raise RuntimeError(f"Overflow when unpacking long: seed {seed} is outside "
                           "[-0x8000_0000_0000_0000, 0xffff_ffff_ffff_ffff]")
    return seed if seed >= 0 else _MAX_SEED + seed


class Generator(np.random.Generator):
    """``Generator(device="cpu")``: a random stream that ``manual_seed`` makes repeat.

    A new Generator starts from PyTorch's default seed, 67280421310721. ``get_state`` gives
    the whole state as a uint8 tensor; ``set_state`` restores it (seed included).
    """

    def __init__(self, device="cpu"):
        from fastgrad.devices import check_cpu

        self.device = check_cpu(device)
        super().__init__(np.random.PCG64(_DEFAULT_SEED))
        self._initial_seed = _DEFAULT_SEED

    def manual_seed(self, seed):
        """Restart the stream from ``seed`` (an int in [-2**63, 2**64)); returns self."""
        seed = _check_seed(seed)
        self.bit_generator.state = np.random.PCG64(seed).state
        self._initial_seed = seed
        return self

    def seed(self):
        """Reseed from OS entropy; returns the new seed (a non-negative 63-bit int)."""
        new_seed = int.from_bytes(os.urandom(8), "little") >> 1
        self.manual_seed(new_seed)
        return new_seed

    def initial_seed(self):
        """The seed the stream last started from."""
        return self._initial_seed

    def get_state(self):
        """The state as a 1-D uint8 tensor, for ``set_state``."""
        from fastgrad.autograd.tensor import Tensor

        pcg = self.bit_generator.state
        values = {**pcg["state"], "has_uint32": pcg["has_uint32"], "uinteger": pcg["uinteger"],
                  "seed": self._initial_seed}
        raw = b"".join(int(values[name]).to_bytes(size, "little") for name, size in _STATE_FIELDS)
        return Tensor._wrap(np.frombuffer(raw, dtype=np.uint8).copy())

    def set_state(self, new_state):
        """Restore a state from ``get_state``; returns self."""
        from fastgrad.autograd.tensor import Tensor

        if not isinstance(new_state, Tensor):
            raise TypeError(f"expected a fastgrad.Tensor of uint8, but got {type(new_state).__name__}")
        if new_state.dtype != np.uint8:
            raise RuntimeError(f"RNG state must be a uint8 tensor, got dtype {new_state.dtype}")
        if new_state.numel() != _STATE_SIZE:
            raise RuntimeError(f"Expected an RNG state of size {_STATE_SIZE} but found the input "
                               f"RNG state size to be {new_state.numel()}")
        raw, values = new_state.arr.tobytes(), {}
        start = 0
        for name, size in _STATE_FIELDS:
            values[name] = int.from_bytes(raw[start:start + size], "little")
            start += size
        self.bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {"state": values["state"], "inc": values["inc"]},
            "has_uint32": values["has_uint32"], "uinteger": values["uinteger"],
        }
        self._initial_seed = values["seed"]
        return self

    def __reduce__(self):
        # numpy's own reduce would rebuild a plain numpy Generator and lose the seed.
        return (_rebuild, (self.device, self.get_state()))

    def __repr__(self):
        return f"<fastgrad.Generator object at {id(self):#x}>"


def _rebuild(device, state):
    return Generator(device).set_state(state)


_default = Generator()
_default.seed()


def default_generator():
    """The global Generator (one object for the life of the process)."""
    return _default


def manual_seed(seed):
    """Seed the global generator so that runs repeat exactly; returns it."""
    return _default.manual_seed(seed)


def seed():
    """Reseed the global generator from OS entropy; returns the seed."""
    return _default.seed()


def initial_seed():
    """The seed the global generator last started from."""
    return _default.initial_seed()


def get_rng_state():
    """The global generator's state as a uint8 tensor."""
    return _default.get_state()


def set_rng_state(new_state):
    """Restore the global generator's state from ``get_rng_state``."""
    _default.set_state(new_state)
