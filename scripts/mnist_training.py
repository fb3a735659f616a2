"""The training loop shared by the MNIST scripts: flags, data, loop, validation, report.

The loop is the original design's ``main.py``: zero_grad; logits = model(x);
loss = criterion(logits, y); loss.backward(); optimizer.step(); and each epoch
``macro, micro = val(model, x_val, y_val)``.
"""
import argparse
import contextlib
import functools
import json
import sys
import time
import traceback

import numpy as np
import threadpoolctl
from tqdm.auto import tqdm  # a widget in Jupyter, text in a terminal

import fastgrad
import fastgrad.distributed as dist
from fastgrad import nn, optim
from fastgrad.data import (DataLoader, DistributedSampler, load_mnist, mnist_transform,
                           train_val_split)
from fastgrad.metrics import accuracy, f1_score


def build_parser(description, defaults):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--epochs", type=int, default=defaults["epochs"])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=defaults["lr"])
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--val-size", type=int, default=5000,
                        help="training images held out for per-epoch validation")
    parser.add_argument("--limit-train", type=int, default=None,
                        help="train on only this many images (quick runs)")
    parser.add_argument("--limit-test", type=int, default=None)
    parser.add_argument("--save", metavar="PATH",
                        help="write the trained weights (.safetensors, or .npz for any other name)")
    parser.add_argument("--plot", metavar="PNG", help="write training curves (needs matplotlib)")
    parser.add_argument("--json", metavar="PATH", help="write the final metrics as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    parser.add_argument("--distributed", action="store_true",
                        help="data-parallel over the MPI ranks (run under mpiexec -n N); "
                             "--batch-size is then per rank")
    parser.add_argument("--global-batch-size", type=int, default=None,
                        help="with --distributed: the batch of one step over all ranks "
                             "(a multiple of the number of ranks; overrides --batch-size)")
    return parser


def predict(model, images, batch_size=1000):
    """The predicted class of each image; a DistributedDataParallel model predicts its rank's
    share of ``images`` and the shares are gathered, so every rank gets all predictions."""
    if isinstance(model, nn.parallel.DistributedDataParallel):
        return predict_sharded(model.module, images, batch_size)
    model.eval()
    predictions = [np.empty(0, dtype=np.int64)]
    with fastgrad.no_grad():
        for start in range(0, len(images), batch_size):
            logits = model(fastgrad.Tensor(images[start:start + batch_size]))
            predictions.append(logits.argmax(dim=1).numpy())
    model.train()
    return np.concatenate(predictions)


def predict_sharded(module, images, batch_size):
    """Each rank predicts one contiguous share of ``images``; all_gather puts them together
    (shares padded to one length with -1, which MPI's fixed-size gather needs)."""
    rank, world = dist.get_rank(), dist.get_world_size()
    share = -(-len(images) // world)
    mine = np.full(share, -1, dtype=np.int64)
    local = predict(module, images[rank * share:(rank + 1) * share], batch_size)
    mine[:len(local)] = local
    everyone = fastgrad.zeros(world * share, dtype=fastgrad.int64)
    dist.all_gather_into_tensor(everyone, fastgrad.from_numpy(mine))
    return everyone.numpy()[:len(images)]


def val(model, images, labels, batch_size=1000):
    """(accuracy, macro-F1, micro-F1) of ``model`` on float32 ``images`` and int ``labels``."""
    predicted = predict(model, images, batch_size)
    return (accuracy(labels, predicted), f1_score(labels, predicted, average="macro"),
            f1_score(labels, predicted, average="micro"))


def make_optimizer(args, parameters):
    if args.optimizer == "adam":
        return optim.Adam(parameters, lr=args.lr)
    return optim.SGD(parameters, lr=args.lr, momentum=args.momentum)


def load_data(args, add_channel):
    """Normalised float32 arrays: ((x_train, y_train), (x_val, y_val), (x_test, y_test))."""
    transform = functools.partial(mnist_transform, add_channel=add_channel)
    train_images, train_labels = load_mnist(train=True)
    test_images, test_labels = load_mnist(train=False)
    (x_train, y_train), (x_val, y_val) = train_val_split(
        train_images, train_labels, val_fraction=args.val_size / len(train_images), seed=args.seed)
    if args.limit_train is not None:
        x_train, y_train = x_train[:args.limit_train], y_train[:args.limit_train]
    if args.limit_test is not None:
        test_images, test_labels = test_images[:args.limit_test], test_labels[:args.limit_test]
    return ((transform(x_train), y_train), (transform(x_val), y_val),
            (transform(test_images), test_labels))


def train(model, args, add_channel, log=print):
    """Train ``model`` as the flags say; returns a dict of the results."""
    if not getattr(args, "distributed", False):
        if getattr(args, "global_batch_size", None) is not None:
            args.batch_size = args.global_batch_size  # one process: the global batch is its own
        return run_training(model, args, add_channel, log)
    with mpi_job() as rank:
        threads = threads_per_rank()
        fastgrad.set_num_threads(threads)
        # The script owns its process: BLAS gets the rank's share of the cores for every
        # product, fastgrad's own or not (ranks oversubscribing 2 cores were 3-7x slower;
        # docs/distributed.md).
        threadpoolctl.threadpool_limits(threads, user_api="blas")
        world = dist.get_world_size()
        if args.global_batch_size is not None:
            if args.global_batch_size % world:
                raise SystemExit(f"--global-batch-size {args.global_batch_size} is not a multiple "
                                 f"of the {world} ranks")
            args.batch_size = args.global_batch_size // world
        log = log if rank == 0 else (lambda *_, **__: None)
        log(f"data-parallel over {world} ranks x {args.batch_size} images = global batch "
            f"{world * args.batch_size}, {threads} thread(s) per rank")
        args.no_progress = args.no_progress or rank != 0
        results = run_training(nn.parallel.DistributedDataParallel(model), args, add_channel, log)
        dist.barrier()
        return results


@contextlib.contextmanager
def mpi_job():
    """Join the MPI job (yields the rank); an exception in any rank aborts every rank (MPI
    cannot recover a collective a rank left), so the job ends with an error instead of hanging."""
    dist.init_process_group("mpi")
    try:
        yield dist.get_rank()
    except BaseException as error:
        if isinstance(error, SystemExit) and error.code in (None, 0):
            raise
        from mpi4py import MPI

        if isinstance(error, SystemExit):  # a usage error: its message, no traceback
            print(error.code, file=sys.stderr)
        else:
            traceback.print_exc()
        sys.stderr.flush()
        # MPI_Abort ends the job at once: without a moment for the launcher to forward what
        # this rank wrote, its message was lost in ~1 job of 15-40 (0 of 100 with the wait)
        time.sleep(0.2)
        MPI.COMM_WORLD.Abort(1)
    dist.destroy_process_group()


def threads_per_rank():
    """The cores this process may use shared among the ranks on this machine."""
    from mpi4py import MPI

    on_this_node = MPI.COMM_WORLD.Split_type(MPI.COMM_TYPE_SHARED)
    ranks_here = on_this_node.Get_size()
    on_this_node.Free()
    return max(1, fastgrad.get_num_threads() // ranks_here)


def run_training(model, args, add_channel, log=print):
    """The training loop; ``model`` may be a DistributedDataParallel (then every rank runs it
    on its shard of each epoch)."""
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = load_data(args, add_channel)
    distributed = isinstance(model, nn.parallel.DistributedDataParallel)
    if distributed:
        sampler = DistributedSampler(len(x_train), shuffle=True, seed=args.seed)
        loader = DataLoader((x_train, y_train), batch_size=args.batch_size, sampler=sampler)
        ranks = dist.get_world_size()
    else:
        sampler = None
        loader = DataLoader((x_train, y_train), batch_size=args.batch_size, shuffle=True,
                            seed=args.seed)
        ranks = 1
    criterion = nn.CrossEntropyLoss()
    optimizer = make_optimizer(args, model.parameters())
    history = {"step_loss": [], "epochs": []}
    # The first pass compiles the numba kernels (or loads them from the on-disk cache): timed
    # on its own so the epochs' images/s are steady-state figures. No step is taken.
    start = time.perf_counter()
    criterion(model(fastgrad.Tensor(x_train[:args.batch_size])),
              fastgrad.Tensor(y_train[:args.batch_size])).backward()
    model.zero_grad()
    log(f"first forward/backward (numba compile or cache load): {time.perf_counter() - start:.2f} s")
    name = type(getattr(model, "module", model)).__name__
    log(f"training {name} on {len(x_train)} images, validating on {len(x_val)}, "
        f"{sum(p.numel() for p in model.parameters())} parameters")
    for epoch in range(1, args.epochs + 1):
        if sampler is not None:
            sampler.set_epoch(epoch)  # a new shuffle, the same on every rank
        start = time.perf_counter()
        running = None
        bar = tqdm(loader, desc=f"epoch {epoch}/{args.epochs}", disable=args.no_progress,
                   leave=False, unit="batch")
        for step, (x, y) in enumerate(bar):
            optimizer.zero_grad()
            logits = model(x)
            loss = criterion(logits, y)
            loss.backward()
            optimizer.step()
            value = loss.item()
            history["step_loss"].append(value)
            running = value if running is None else 0.98 * running + 0.02 * value
            if step % 20 == 0:
                seen = (step + 1) * args.batch_size * ranks
                bar.set_postfix(loss=f"{running:.4f}",
                                img_s=f"{seen / (time.perf_counter() - start):,.0f}")
        seconds = time.perf_counter() - start
        if distributed:  # the mean of the ranks' running losses
            mean = fastgrad.tensor([running], dtype=fastgrad.float64)
            dist.all_reduce(mean, op=dist.ReduceOp.AVG)
            running = mean.item()
        acc, macro, micro = val(model, x_val, y_val)
        images_per_s = (len(sampler) * ranks if distributed else len(x_train)) / seconds
        history["epochs"].append({"epoch": epoch, "loss": running, "val_accuracy": acc,
                                  "val_macro_f1": macro, "val_micro_f1": micro,
                                  "seconds": seconds, "images_per_s": images_per_s})
        log(f"epoch {epoch}/{args.epochs}  loss {running:.4f}  val acc {acc:.2%}  "
            f"macro-F1 {macro:.4f}  micro-F1 {micro:.4f}  {seconds:.1f} s  {images_per_s:,.0f} img/s")
    acc, macro, micro = val(model, x_test, y_test)
    log(f"test  accuracy {acc:.2%}  macro-F1 {macro:.4f}  micro-F1 {micro:.4f}")
    results = {"test_accuracy": acc, "test_macro_f1": macro, "test_micro_f1": micro,
               "test_images": len(y_test), "ranks": ranks,
               "global_batch_size": args.batch_size * ranks, "epochs": history["epochs"]}
    if distributed and dist.get_rank() != 0:
        return results  # rank 0 writes the files
    if args.save:
        # a DistributedDataParallel saves its module's weights, loadable without it
        fastgrad.save(getattr(model, "module", model).state_dict(), args.save)
        log(f"weights saved to {args.save}")
    if args.plot:
        plot_history(history, args.plot)
        log(f"training curves saved to {args.plot}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


def plot_history(history, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(10, 4))
    losses = np.asarray(history["step_loss"])
    window = max(1, len(losses) // 100)
    smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
    ax_loss.plot(losses, alpha=0.3, label="batch loss")
    ax_loss.plot(np.arange(len(smooth)) + window - 1, smooth, label=f"mean of {window}")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("cross-entropy")
    ax_loss.set_yscale("log")
    ax_loss.legend()
    epochs = [e["epoch"] for e in history["epochs"]]
    for key, label in (("val_accuracy", "accuracy"), ("val_macro_f1", "macro-F1"),
                       ("val_micro_f1", "micro-F1")):
        ax_val.plot(epochs, [e[key] for e in history["epochs"]], marker="o", label=label)
    ax_val.set_xlabel("epoch")
    ax_val.set_title("validation")
    ax_val.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
