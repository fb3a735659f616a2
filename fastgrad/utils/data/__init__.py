"""``fastgrad.utils.data``: ``torch.utils.data``'s data sets, samplers, collation and
``DataLoader`` under the same names. (``fastgrad.data`` holds MNIST, the IDX reader and a
loader for tuples of arrays built on this one.)"""
from fastgrad.utils.data.collate import default_collate, default_convert
from fastgrad.utils.data.dataloader import DataLoader, get_worker_info
from fastgrad.utils.data.dataset import (ConcatDataset, Dataset, IterableDataset, Subset,
                                         TensorDataset, random_split)
from fastgrad.utils.data.sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,
                                         SubsetRandomSampler)

__all__ = ["BatchSampler", "ConcatDataset", "DataLoader", "Dataset", "IterableDataset",
           "RandomSampler", "Sampler", "SequentialSampler", "Subset", "SubsetRandomSampler",
           "TensorDataset", "default_collate", "default_convert", "get_worker_info",
           "random_split"]
