"""Data sets and loading: IDX files, the bundled MNIST, a NumPy DataLoader."""

from .idx import read_idx, write_idx

__all__ = ["read_idx", "write_idx"]
