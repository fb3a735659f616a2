"""One flat vector from many parameters and back (``torch.nn.utils.parameters_to_vector`` /
``vector_to_parameters``), e.g. for optimizers that work on a single vector."""
from fastgrad.autograd.tensor import Tensor


def parameters_to_vector(parameters):
    """The parameters flattened and joined in order: a 1-D tensor of their total size.

    Differentiable: the result is the ``cat`` of their ``reshape(-1)``.
    """
    from fastgrad.ops import cat

    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    """Make each parameter, in order, a view of the next ``numel()`` entries of ``vec``.

    As PyTorch's ``param.data = ...``: the parameters share ``vec``'s memory afterwards and
    their autograd state is kept. ``vec`` must be a 1-D Tensor (TypeError otherwise) long
    enough for all the parameters.
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected fastgrad.Tensor, but got: {type(vec).__name__}")
    parameters = list(parameters)
    needed = sum(p.numel() for p in parameters)
    if vec.ndim != 1 or vec.numel() < needed:
        raise RuntimeError(
            f"vector of shape {tuple(vec.shape)} cannot fill parameters of {needed} elements in total"
        )
    start = 0
    for p in parameters:
        stop = start + p.numel()
        p.arr = vec.arr[start:stop].reshape(p.shape)
        p._bump_version()
        start = stop
