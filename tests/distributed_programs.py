"""Programs the MPI tests run under ``mpiexec -n 2`` (tests/test_distributed_mpi.py):
``python tests/distributed_programs.py NAME``. Each checks its claims itself and fails by an
AssertionError, which aborts the whole MPI job (exit code != 0), so the test sees it."""
import sys
import time
import traceback

import numpy as np

import fastgrad
import fastgrad.distributed as dist
from fastgrad import nn, optim
from fastgrad.data import DistributedSampler
from fastgrad.models import MNISTClassificationModel
from fastgrad.nn.parallel import DistributedDataParallel as DDP


def collectives():
    rank, size = dist.get_rank(), dist.get_world_size()
    assert size == 2, size
    t = fastgrad.tensor([1.0, 2.0]) * (rank + 1)
    dist.all_reduce(t)
    np.testing.assert_array_equal(t.numpy(), [3.0, 6.0])
    for op, expected in ((dist.ReduceOp.AVG, [1.5, 3.0]), (dist.ReduceOp.MAX, [2.0, 4.0]),
                         (dist.ReduceOp.MIN, [1.0, 2.0])):
        t = fastgrad.tensor([1.0, 2.0]) * (rank + 1)
        dist.all_reduce(t, op=op)
        np.testing.assert_array_equal(t.numpy(), expected)
    # a non-contiguous tensor is reduced in place through a contiguous copy
    base = fastgrad.tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3)) * (rank + 1)
    view = base.arr.T
    t = fastgrad.Tensor._wrap(view)
    dist.all_reduce(t)
    np.testing.assert_array_equal(t.arr, 3 * np.arange(6.0).reshape(2, 3).T)
    assert t.arr.base is not None  # still the same (strided) array
    # async_op returns a Work whose wait() finishes the reduction
    t = fastgrad.ones(4) * (rank + 1)
    work = dist.all_reduce(t, op=dist.ReduceOp.SUM, async_op=True)
    work.wait()
    np.testing.assert_array_equal(t.numpy(), np.full(4, 3.0))
    # broadcast, 0-d included
    s = fastgrad.tensor(10.0 + rank)
    dist.broadcast(s, src=1)
    assert s.item() == 11.0
    ints = fastgrad.tensor([rank, rank + 5])
    dist.broadcast(ints, src=0)
    np.testing.assert_array_equal(ints.numpy(), [0, 5])
    # all_gather and all_gather_into_tensor, in rank order
    parts = [fastgrad.zeros(3) for _ in range(size)]
    dist.all_gather(parts, fastgrad.ones(3) * rank)
    np.testing.assert_array_equal(np.stack([p.numpy() for p in parts]), [[0, 0, 0], [1, 1, 1]])
    out = fastgrad.zeros(4, 2)
    dist.all_gather_into_tensor(out, fastgrad.ones(2, 2) * (rank + 1))
    np.testing.assert_array_equal(out.numpy()[:, 0], [1, 1, 2, 2])
    # reduce: only dst gets the result
    t = fastgrad.tensor([1.0, 2.0]) * (rank + 1)
    dist.reduce(t, dst=1)
    np.testing.assert_array_equal(t.numpy(), [3.0, 6.0] if rank == 1 else [1.0, 2.0])
    dist.barrier()
    # mismatched shapes and dtypes raise on every rank, and the next collective still works
    other_dtype = fastgrad.ones(3, dtype=[fastgrad.float32, fastgrad.float64][rank])
    for bad in (fastgrad.ones(3 + rank), other_dtype):
        for call in (lambda: dist.all_reduce(bad), lambda: dist.broadcast(bad, src=0),
                     lambda: dist.all_gather([fastgrad.zeros(*bad.shape) for _ in range(2)], bad)):
            try:
                call()
            except RuntimeError as error:
                message = str(error)
                assert "rank 0" in message and "rank 1" in message, message
            else:
                raise AssertionError("a mismatched collective did not raise")
    t = fastgrad.ones(2)
    dist.all_reduce(t)
    np.testing.assert_array_equal(t.numpy(), [2.0, 2.0])
    try:
        dist.all_reduce(fastgrad.tensor([1, 2]), op=dist.ReduceOp.AVG)
    except RuntimeError as error:
        assert "floating-point" in str(error)
    else:
        raise AssertionError("AVG on integers did not raise")


def _flat(model):
    return np.concatenate([p.arr.ravel() for p in model.parameters()])


def _assert_same_on_all_ranks(model, what):
    mine = fastgrad.Tensor(_flat(model))
    everyone = [fastgrad.zeros_like(mine) for _ in range(dist.get_world_size())]
    dist.all_gather(everyone, mine)
    for r, other in enumerate(everyone):
        assert np.array_equal(other.numpy(), mine.numpy()), f"{what}: rank {r} differs"


def _against_one_process(dtype, resync):
    """2 ranks x 32 images against one process (rank 0, on the side) x the same 64 images,
    20 SGD steps with momentum, through DistributedSampler shards. With ``resync`` the one
    process starts every step from DDP's weights and the gradients are compared too."""
    fastgrad.set_num_threads(1)
    rank, size = dist.get_rank(), dist.get_world_size()
    steps, global_batch = 20, 64
    per_rank = global_batch // size
    rng = np.random.default_rng(0)
    images = rng.standard_normal((steps * global_batch, 1, 28, 28)).astype(dtype)
    labels = rng.integers(0, 10, steps * global_batch)

    fastgrad.manual_seed(100 + rank)  # different inits: DDP must broadcast rank 0's
    model = DDP(MNISTClassificationModel().to(dtype), bucket_cap_mb=0.1)  # several buckets
    assert len(model.reducer.buckets) > 2, len(model.reducer.buckets)
    _assert_same_on_all_ranks(model, "after construction")
    assert list(model.state_dict()) == ["module." + k for k in model.module.state_dict()]
    reference = MNISTClassificationModel().to(dtype)
    reference.load_state_dict(model.module.state_dict())

    sampler = DistributedSampler((images, labels), shuffle=True, seed=3)
    shards = [list(DistributedSampler(len(images), size, r, shuffle=True, seed=3))
              for r in range(size)]
    assert list(sampler) == shards[rank]
    criterion = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    ref_opt = optim.SGD(reference.parameters(), lr=0.05, momentum=0.9)
    tolerance = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-12)
    start = _flat(model.module)
    for step in range(steps):
        mine = shards[rank][step * per_rank:(step + 1) * per_rank]
        opt.zero_grad()
        logits = model(fastgrad.from_numpy(images[mine]))
        criterion(logits, fastgrad.from_numpy(labels[mine])).backward()
        if rank == 0:
            if resync:
                reference.load_state_dict(model.module.state_dict())
            picks = np.concatenate([s[step * per_rank:(step + 1) * per_rank] for s in shards])
            ref_opt.zero_grad()
            criterion(reference(fastgrad.from_numpy(images[picks])),
                      fastgrad.from_numpy(labels[picks])).backward()
            if resync:
                for (name, p), q in zip(model.module.named_parameters(), reference.parameters()):
                    np.testing.assert_allclose(p.grad.arr, q.grad.arr, **tolerance,
                                               err_msg=f"gradient of {name}, step {step}")
            ref_opt.step()
        opt.step()
        _assert_same_on_all_ranks(model, f"after step {step}")
        if rank == 0:
            for (name, p), q in zip(model.module.named_parameters(), reference.parameters()):
                np.testing.assert_allclose(p.arr, q.arr, **tolerance,
                                           err_msg=f"{name}, step {step}")
    assert np.abs(_flat(model.module) - start).max() > 1e-3  # it did train


def ddp_matches_one_process_float32():
    """float32: one max-pool argmax or ReLU that float32 rounding flips (the two runs sum the
    batch in different orders) changes the trajectories by ~1e-4 after a few steps, so the one
    process restarts from DDP's weights each step; gradients and weights agree to 1e-5."""
    _against_one_process(np.float32, resync=True)


def ddp_matches_one_process_float64():
    """float64: the two trajectories run freely for 20 steps and agree to 1e-9."""
    _against_one_process(np.float64, resync=False)


def ddp_no_sync():
    """Two micro-batches under no_sync + one synced equal one step on their union; an unused
    parameter gets the average of what the ranks hold; a forward without backward raises."""
    rank = dist.get_rank()
    fastgrad.manual_seed(0)
    model = DDP(nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)))
    x = fastgrad.Tensor(np.random.default_rng(rank).standard_normal((6, 4)).astype(np.float32))
    with model.no_sync():
        model(x[:2]).sum().backward()
        local = [p.grad.numpy().copy() for p in model.parameters()]
        model(x[2:4]).sum().backward()
    model(x[4:]).sum().backward()
    everything = [fastgrad.Tensor(g) for g in _local_full_grads(model.module, x)]
    for g in everything:
        dist.all_reduce(g, op=dist.ReduceOp.AVG)
    for p, g in zip(model.parameters(), everything):
        np.testing.assert_allclose(p.grad.numpy(), g.numpy(), rtol=1e-5, atol=1e-6)
    assert not np.allclose(local[0], model.module[0].weight.grad.numpy())
    # a forward that is not followed by backward makes the next forward raise
    model(x)
    try:
        model(x)
    except RuntimeError as error:
        assert "prior iteration" in str(error)
    else:
        raise AssertionError("a second forward before backward did not raise")


class _Branchy(nn.Module):
    """A shared (tied) layer used twice, and a head that only rank 1's forward uses."""

    def __init__(self):
        super().__init__()
        self.shared = nn.Linear(3, 3)
        self.again = self.shared
        self.head = nn.Linear(3, 1)

    def forward(self, x, use_head):
        h = self.again(self.shared(x).relu())
        return self.head(h).sum() if use_head else h.sum()


def ddp_unused_and_tied():
    """A parameter used twice gets its summed gradient once; a parameter only one rank used
    gets that rank's gradient / world size on every rank (the other contributes zero)."""
    rank, size = dist.get_rank(), dist.get_world_size()
    fastgrad.manual_seed(1)
    model = DDP(_Branchy())
    assert len(list(model.parameters())) == 4
    x = fastgrad.Tensor(np.random.default_rng(rank).standard_normal((5, 3)).astype(np.float32))
    model(x, use_head=rank == 1).backward()
    plain = _Branchy()
    plain.load_state_dict(model.module.state_dict())
    plain(x, use_head=rank == 1).backward()
    for (name, p), q in zip(model.module.named_parameters(), plain.parameters()):
        local = fastgrad.Tensor(q.grad.numpy() if q.grad is not None else np.zeros_like(q.arr))
        dist.all_reduce(local, op=dist.ReduceOp.AVG)
        np.testing.assert_allclose(p.grad.numpy(), local.numpy(), rtol=1e-6, err_msg=name)
    head = model.module.head.weight.grad.numpy()
    assert np.abs(head).max() > 0  # rank 1's gradient arrived on rank 0 too
    _assert_same_on_all_ranks(model, "after backward")
    # models that differ across ranks are refused on every rank before any broadcast
    try:
        DDP(nn.Linear(2, 2 + rank))
    except RuntimeError as error:
        assert "models differ" in str(error), error
    else:
        raise AssertionError("DDP over different models did not raise")


def _local_full_grads(module, x):
    copy = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    copy.load_state_dict(module.state_dict())
    copy(x).sum().backward()
    return [p.grad.numpy() for p in copy.parameters()]


def rank_dies():
    """Rank 1 raises while rank 0 waits in a collective: the job must end, not hang."""
    if dist.get_rank() == 1:
        raise ValueError("rank 1 fails on purpose")
    dist.barrier()


PROGRAMS = {f.__name__: f for f in (collectives, ddp_matches_one_process_float32,
                                       ddp_matches_one_process_float64, ddp_no_sync,
                                       ddp_unused_and_tied, rank_dies)}


if __name__ == "__main__":
    dist.init_process_group("mpi")
    try:
        PROGRAMS[sys.argv[1]]()
        dist.barrier()
        if dist.get_rank() == 0:
            print(f"{sys.argv[1]}: ok on {dist.get_world_size()} ranks")
        dist.destroy_process_group()
    except BaseException:
        from mpi4py import MPI

        traceback.print_exc()
        sys.stderr.flush()
        # MPI_Abort ends the job at once: without a moment for the launcher to forward what
        # this rank wrote, its message was lost in ~1 job of 15-40 (0 of 100 with the wait)
        time.sleep(0.2)
        MPI.COMM_WORLD.Abort(1)
