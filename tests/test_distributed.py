"""fastgrad.distributed, DistributedSampler and DistributedDataParallel in one process (no MPI
job): the errors before init_process_group and the sampler's shards. The multi-process
behaviour is in tests/test_distributed_mpi.py."""
import numpy as np
import pytest

import fastgrad
import fastgrad.distributed as dist
from fastgrad import nn
from fastgrad.data import DataLoader, DistributedSampler
from fastgrad.nn.parallel import DistributedDataParallel


@pytest.mark.parametrize("call", [
    dist.get_rank, dist.get_world_size, dist.barrier, dist.destroy_process_group,
    lambda: dist.all_reduce(fastgrad.ones(2)), lambda: dist.broadcast(fastgrad.ones(2), 0),
    lambda: dist.reduce(fastgrad.ones(2), 0),
    lambda: dist.all_gather([fastgrad.ones(2)], fastgrad.ones(2)),
    lambda: DistributedDataParallel(nn.Linear(2, 2)),
    lambda: DistributedSampler(10),
])
def test_everything_needs_init_process_group_first(call):
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="init_process_group"):
        call()


def test_only_the_mpi_backend_exists():
    with pytest.raises(ValueError, match="'nccl'"):
        dist.init_process_group("nccl")
    assert not dist.is_initialized()


def test_fastgrad_import_does_not_start_mpi():
    import subprocess
    import sys

    code = "import sys, fastgrad, fastgrad.distributed; print('mpi4py' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def shards(n, replicas, **kwargs):
    return [list(DistributedSampler(n, replicas, r, **kwargs)) for r in range(replicas)]


@pytest.mark.parametrize("n, replicas", [(12, 3), (10, 4), (7, 2), (3, 5), (0, 2), (1, 1)])
@pytest.mark.parametrize("shuffle", [False, True])
def test_shards_are_disjoint_equal_and_cover_everything(n, replicas, shuffle):
    parts = shards(n, replicas, shuffle=shuffle, seed=5)
    size = -(-n // replicas)
    assert [len(p) for p in parts] == [size] * replicas
    assert [len(DistributedSampler(n, replicas, r)) for r in range(replicas)] == [size] * replicas
    everything = [i for p in parts for i in p]
    assert set(everything) == set(range(n))
    # the only repeats are the padding, taken from the start of the permutation
    assert len(everything) - len(set(everything)) == replicas * size - n
    if n % replicas == 0:
        assert len(set(everything)) == len(everything)


@pytest.mark.parametrize("n, replicas", [(10, 4), (12, 3), (3, 5)])
def test_drop_last_cuts_to_disjoint_equal_shards(n, replicas):
    parts = shards(n, replicas, shuffle=True, drop_last=True)
    assert [len(p) for p in parts] == [n // replicas] * replicas
    everything = [i for p in parts for i in p]
    assert len(set(everything)) == len(everything) == (n // replicas) * replicas


def test_epochs_reshuffle_and_every_rank_agrees():
    first = shards(100, 4, seed=1)
    again = shards(100, 4, seed=1)
    assert first == again  # same seed and epoch: the same shards on every rank
    samplers = [DistributedSampler(100, 4, r, seed=1) for r in range(4)]
    for s in samplers:
        s.set_epoch(1)
    second = [list(s) for s in samplers]
    assert second != first
    assert sorted(i for p in second for i in p) == list(range(100))
    assert shards(100, 4, seed=2) != first
    assert shards(100, 4, shuffle=False)[1] == list(range(1, 100, 4))


def test_sampler_takes_a_data_set_and_feeds_the_data_loader():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    seen = []
    for rank in range(2):
        sampler = DistributedSampler((x, y), num_replicas=2, rank=rank, seed=0)
        assert len(sampler) == 5
        loader = DataLoader((x, y), batch_size=2, sampler=sampler)
        batches = list(loader)
        assert [len(b[1]) for b in batches] == [2, 2, 1]
        labels = np.concatenate([b[1].numpy() for b in batches])
        assert labels.tolist() == list(sampler)
        np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in batches]), x[labels])
        seen.extend(labels.tolist())
    assert sorted(seen) == list(range(10))
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader((x, y), batch_size=2, shuffle=True, sampler=DistributedSampler(10, 2, 0))


def test_sampler_rejects_bad_arguments():
    with pytest.raises(ValueError, match="Invalid rank 2"):
        DistributedSampler(10, num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas"):
        DistributedSampler(10, num_replicas=0, rank=0)
    with pytest.raises(TypeError, match="rank"):
        DistributedSampler(10, num_replicas=2, rank=1.0)
