"""Data sets and loading: IDX files, the bundled MNIST, a NumPy DataLoader."""

from .idx import read_idx, write_idx
from .mnist import MNIST, MNIST_MEAN, MNIST_STD, load_mnist, mnist_transform

__all__ = [
    "read_idx",
    "write_idx",
    "MNIST",
    "MNIST_MEAN",
    "MNIST_STD",
    "load_mnist",
    "mnist_transform",
]
