"""The default process group, as ``torch.distributed``: one per process, made by
``init_process_group`` from the MPI job the process was started in.

MPI is the engine: ``mpi4py`` over an MPI library (the MPICH wheel with
``pip install fastgrad[distributed]``), so the same program runs under ``mpiexec``, ``mpirun``
or Slurm's ``srun``. ``mpi4py`` is imported by ``init_process_group`` only, never at
``import fastgrad``: MPI starts when the program asks for it.
"""

__all__ = ["init_process_group", "is_initialized", "is_available", "get_rank", "get_world_size",
           "barrier", "destroy_process_group", "default_group"]

_NOT_INITIALIZED = ("Default process group has not been initialized, please make sure to call "
                    "init_process_group.")

_default_group = None


class ProcessGroup:
    """The processes of one MPI communicator: ``rank`` in ``0..size-1``, ``size``, ``comm``."""

    def __init__(self, comm):
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()

    def __repr__(self):
        return f"ProcessGroup(backend='mpi', rank={self.rank}, size={self.size})"


def is_available():
    """True when the MPI bindings (``mpi4py``) can be imported."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def init_process_group(backend="mpi", init_method=None, world_size=-1, rank=-1, **kwargs):
    """Join the MPI job this process runs in; rank and world size are MPI's.

    ``backend`` must be ``"mpi"`` (or None). ``world_size`` and ``rank``, when given, must agree
    with MPI's (the launcher decides them, as with PyTorch's MPI backend). Other PyTorch keywords
    (``timeout``, ``store``, ...) are accepted and have no effect. Raises RuntimeError when called
    twice, or when mpi4py is missing.
    """
    global _default_group
    if backend is not None and str(backend).lower() != "mpi":
        raise ValueError(f"backend {backend!r} is not available in fastgrad; use backend='mpi' "
                         "(launch the program with mpiexec / mpirun / srun)")
    if _default_group is not None:
        raise RuntimeError("trying to initialize the default process group twice!")
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise RuntimeError("the 'mpi' backend needs mpi4py and an MPI library: "
                           "pip install 'fastgrad[distributed]'") from error
    group = ProcessGroup(MPI.COMM_WORLD)
    for name, given, actual in (("world_size", world_size, group.size), ("rank", rank, group.rank)):
        if given not in (-1, None) and given != actual:
            raise ValueError(f"{name}={given} was given, but the MPI launcher made this process "
                             f"{name} {actual}")
    _default_group = group


def is_initialized():
    """Whether ``init_process_group`` has been called (and not undone since by
    ``destroy_process_group``)."""
    return _default_group is not None


def default_group():
    """The default ``ProcessGroup``; RuntimeError before ``init_process_group``."""
    if _default_group is None:
        raise RuntimeError(_NOT_INITIALIZED)
    return _default_group


def get_rank(group=None):
    """This process's rank, ``0 <= rank < get_world_size()``."""
    return (group or default_group()).rank


def get_world_size(group=None):
    """The number of processes in the job."""
    return (group or default_group()).size


def barrier(group=None):
    """Return once every process has called ``barrier``."""
    (group or default_group()).comm.Barrier()


def destroy_process_group(group=None):
    """Forget the default group (MPI itself finalises when the process exits)."""
    global _default_group
    default_group()
    _default_group = None
