"""Data sets and loading: IDX files, the bundled MNIST, a NumPy DataLoader."""

from .distributed import DistributedSampler
from .idx import read_idx, write_idx
from .loader import DataLoader, Subset, random_split, train_val_split
from .mnist import MNIST, MNIST_MEAN, MNIST_STD, load_mnist, mnist_transform

__all__ = [
    "read_idx",
    "write_idx",
    "MNIST",
    "MNIST_MEAN",
    "MNIST_STD",
    "load_mnist",
    "mnist_transform",
    "DataLoader",
    "Subset",
    "random_split",
    "train_val_split",
]
