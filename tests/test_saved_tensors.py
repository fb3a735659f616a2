"""``save_for_backward`` keeps what a backward reads, arrays and versions in one call;
``saved_tensors`` hands it back, checking versions when read; ``release`` drops it."""
import numpy as np
import pytest

import fastgrad
import fastgrad.nn.functional as F
from fastgrad import GradFn, Tensor
from fastgrad.ops.naive import conv2d_naive, max_pool2d_naive


class _Saving(GradFn):
    """Saves ``values``; its backward reads them and returns the gradient times the first."""

    def __init__(self, x, *values):
        super().__init__(x)
        self.save_for_backward(*values)

    def backward(self, grad_output):
        first = self.saved_tensors[0]
        return (grad_output * first,)


def test_values_come_back_in_order_tensors_as_their_arrays():
    x = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    mask = np.array([True, False])
    fn = _Saving(x, x, mask, 2.5, None)
    saved = fn.saved_tensors
    assert saved[0] is x.arr and saved[1] is mask and saved[2:] == (2.5, None)


def test_each_call_appends():
    x = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    fn = _Saving(x, x)
    out = Tensor._wrap(x.arr * 2, fn)
    fn.save_for_backward(out)
    assert fn.saved_tensors[0] is x.arr and fn.saved_tensors[1] is out.arr


def test_reading_after_an_in_place_change_raises_and_names_the_tensor():
    w = fastgrad.tensor([1.0, 2.0, 3.0])
    x = fastgrad.tensor([1.0, 1.0, 1.0], requires_grad=True)
    y = Tensor._wrap(x.arr * w.arr, _Saving(x, w))
    assert y.grad_fn.saved_tensors[0] is w.arr  # unchanged: reads fine
    w += 1
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation.*shape \(3,\) saved "
                                           r"by _Saving is at version 1; expected version 0"):
        y.grad_fn.saved_tensors
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward(np.ones(3, dtype=np.float32))


def test_a_change_through_a_view_of_a_saved_tensor_is_detected_on_read():
    base = fastgrad.tensor([1.0, 2.0, 3.0])
    x = fastgrad.tensor([1.0, 1.0], requires_grad=True)
    fn = _Saving(x, base[:2])
    base[2] = 0.0  # the view shares its base's version counter
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        fn.saved_tensors


def test_arrays_the_op_made_are_not_version_checked():
    x = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    scale = np.array([3.0, 4.0], dtype=np.float32)
    y = Tensor._wrap(x.arr * scale, _Saving(x, scale))
    x.detach().zero_()  # x is not saved: no error
    y.backward(np.ones(2, dtype=np.float32))
    np.testing.assert_array_equal(x.grad.arr, [3.0, 4.0])


def test_release_drops_the_saved_arrays_and_keeps_numbers():
    x = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    fn = y.grad_fn
    assert fn.saved_tensors[0] is y.arr
    y.sum().backward()
    assert fn.released and not hasattr(fn, "_saved")
    with pytest.raises(RuntimeError, match=r"saved tensors after they were freed.*retain_graph"):
        fn.saved_tensors
    z = x + 1  # add saves the numbers 1 and alpha: a second backward through it works
    add = z.grad_fn
    z.sum().backward()
    assert not add.released and add.saved_tensors == (1, None)  # (1 needs no gradient)
    z.sum().backward()
    np.testing.assert_allclose(x.grad.arr, np.exp([1.0, 2.0]) + 2, rtol=1e-6)


def _nodes(make):
    """Every node of the graph ``make()`` builds."""
    out = make()
    seen, stack = [], [out.grad_fn]
    while stack:
        fn = stack.pop()
        if isinstance(fn, GradFn) and fn not in seen:
            seen.append(fn)
            stack.extend(fn.next_edges)
    return seen


def _x(*shape):
    fastgrad.manual_seed(0)
    return fastgrad.randn(*shape, requires_grad=True)


GRAPHS = {
    "arithmetic": lambda: (_x(2, 3) * _x(3) / (_x(2, 3) ** 2 + 1) - _x(3)).maximum(_x(3)),
    "matmul": lambda: _x(2, 3) @ _x(3, 4),
    "elementwise": lambda: (_x(4).exp() + _x(4).abs().sqrt().log() + _x(4).sigmoid()
                            + _x(4).tanh() + _x(4).relu() + _x(4).clamp(-0.5, 0.5)
                            + _x(4).clamp(_x(4), _x(4))),
    "reductions": lambda: (_x(3, 4).var(0) + _x(3, 4).std(0) + _x(3, 4).amax(0)
                           + _x(3, 4).max(0).values + _x(3, 4).logsumexp(0)),
    "softmax": lambda: _x(3, 4).softmax(1) + _x(3, 4).log_softmax(1),
    "where": lambda: fastgrad.where(_x(4) > 0, _x(4), _x(4)),
    "linear": lambda: F.linear(_x(2, 3), _x(4, 3), _x(4)),
    "losses": lambda: (F.cross_entropy(_x(3, 5), fastgrad.tensor([0, 4, 1]), label_smoothing=0.1)
                       + F.nll_loss(_x(3, 5), fastgrad.tensor([0, 4, 1]))),
    "dropout": lambda: F.dropout(_x(10), 0.5),
    "naive": lambda: max_pool2d_naive(conv2d_naive(_x(1, 2, 5, 5), _x(3, 2, 3, 3)), 2),
}


@pytest.mark.parametrize("graph", sorted(GRAPHS))
def test_nodes_keep_array_data_only_through_save_for_backward(graph):
    nodes = _nodes(GRAPHS[graph])
    assert nodes
    for fn in nodes:
        plain = [name for name, value in vars(fn).items()
                 if name != "_saved" and isinstance(value, (np.ndarray, Tensor))]
        assert not plain, (type(fn).__name__, plain)


def test_conv2d_refuses_a_weight_changed_in_place_before_its_backward():
    conv = fastgrad.nn.Conv2d(2, 3, 3)
    out = conv(_x(1, 2, 5, 5))
    with fastgrad.no_grad():
        conv.weight.add_(1.0)  # what an optimiser step between forward and backward does
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation.*Conv2dGradFn"):
        out.sum().backward()
