"""The random number generator behind randn / rand / init / dropout / shuffling.

One NumPy ``Generator``, reseeded by ``manual_seed`` (PyTorch's global RNG seed).
"""
import numpy as np

_generator = np.random.default_rng()
_initial_seed = None


def manual_seed(seed):
    """Seed fastgrad's generator so that runs repeat exactly; returns the generator."""
    global _generator, _initial_seed
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed expects an int, got {type(seed).__name__}")
    _initial_seed = int(seed)
    _generator = np.random.default_rng(int(seed))
    return _generator


def initial_seed():
    return _initial_seed


def default_generator():
    """The current global ``np.random.Generator``."""
    return _generator
