"""The backward engine: accumulation, shared nodes, long chains, grad mode, retain_graph,
branches without gradient, gradient aliasing and the in-place version checks."""
import sys
import time

import numpy as np
import pytest

import fastgrad
from fastgrad import GradFn, Tensor
from fastgrad.autograd.function import needs_grad


class _StopGradFn(GradFn):
    """A node that sends no gradient back (returns None for its input)."""

    def backward(self, grad_output):
        return (None,)


def _stop(x):
    """The value of x, recorded through a node whose backward gives None."""
    return Tensor._wrap(x.arr.copy(), _StopGradFn(x) if needs_grad(x) else None)


# ---------------------------------------------------------------------------- accumulation
def test_two_backward_calls_accumulate():
    x = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.arr, [3.0 + 2.0, 3.0 + 4.0])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.arr, [3.0, 3.0])


def test_backward_of_a_leaf_itself():
    x = fastgrad.tensor(2.0, requires_grad=True)
    x.backward()
    assert x.grad.item() == 1.0
    v = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    v.backward(fastgrad.tensor([3.0, 4.0]))
    np.testing.assert_array_equal(v.grad.arr, [3.0, 4.0])


def test_gradient_argument_weights_the_output():
    x = fastgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).backward(np.array([1.0, 0.0, -1.0]))
    np.testing.assert_array_equal(x.grad.arr, [2.0, 0.0, -6.0])
    assert x.grad.dtype == np.float32


# ------------------------------------------------------------------------------ graph shape
def test_diamond():
    a = fastgrad.tensor([1.0, -2.0], requires_grad=True)
    b = a + a
    c = b * b
    c.sum().backward()
    # c = 4 a^2, dc/da = 8 a
    np.testing.assert_array_equal(a.grad.arr, [8.0, -16.0])


def test_diamond_through_non_leaf_nodes():
    x = fastgrad.tensor([0.5, 1.5], requires_grad=True)
    a = x.exp()
    b = a * 2
    c = a.log()
    d = (b * c + a).sum()
    d.backward()
    # d = sum(2 e^x x + e^x): dd/dx = 2 e^x x + 2 e^x + e^x
    e = np.exp(x.arr.astype(np.float64))
    np.testing.assert_allclose(x.grad.arr, 2 * e * x.arr + 3 * e, rtol=1e-6)


def test_same_input_twice_in_one_node():
    x = fastgrad.tensor([3.0], requires_grad=True)
    (x * x).backward(fastgrad.tensor([1.0]))
    assert x.grad.item() == 6.0


def test_long_chain_has_no_recursion_limit_and_is_fast():
    n = 10_000
    assert n > sys.getrecursionlimit()
    x = fastgrad.tensor([1.0, 2.0], dtype=fastgrad.float64, requires_grad=True)
    start = time.perf_counter()
    y = x
    for _ in range(n):
        y = y * 1.0001
    y.sum().backward()
    elapsed = time.perf_counter() - start
    np.testing.assert_allclose(x.grad.arr, [1.0001 ** n] * 2, rtol=1e-9)
    assert elapsed < 5.0, f"10,000-op chain took {elapsed:.2f} s"


def test_long_chain_without_backward_is_freed_without_error():
    x = fastgrad.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y + 1.0
    assert y.item() == 10_001.0
    del y  # dropping the whole graph must not recurse into a stack overflow


def test_non_leaf_grads_are_not_stored():
    x = fastgrad.tensor([1.0], requires_grad=True)
    y = x * 2
    (y * 3).sum().backward()
    assert y.grad is None and x.grad.item() == 6.0


# ------------------------------------------------------------------------------- grad mode
def test_no_grad_builds_no_graph():
    x = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    with fastgrad.no_grad():
        assert not fastgrad.is_grad_enabled()
        y = (x * 2).exp().sum()
        z = x[0]
    assert fastgrad.is_grad_enabled()
    for t in (y, z):
        assert t.grad_fn is None and not t.requires_grad and t.is_leaf
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_no_grad_as_a_decorator_and_enable_grad_inside():
    @fastgrad.no_grad()
    def double(t):
        assert not fastgrad.is_grad_enabled()
        with fastgrad.enable_grad():
            inner = t * 1
        return t * 2, inner

    x = fastgrad.tensor([1.0], requires_grad=True)
    out, inner = double(x)
    assert double.__name__ == "double"
    assert out.grad_fn is None and inner.grad_fn is not None
    assert fastgrad.is_grad_enabled()

    @fastgrad.enable_grad()
    def tracked(t):
        return t * 2

    with fastgrad.no_grad():
        assert tracked(x).requires_grad


def test_bare_decorators_without_parentheses():
    @fastgrad.no_grad
    def untracked(t):
        return t * 2

    @fastgrad.enable_grad
    def tracked(t):
        return t * 2

    x = fastgrad.tensor([1.0], requires_grad=True)
    assert untracked.__name__ == "untracked"
    assert untracked(x).grad_fn is None
    with fastgrad.no_grad():
        assert tracked(x).grad_fn is not None
    assert fastgrad.is_grad_enabled()


def test_grad_mode_is_restored_after_an_exception():
    with pytest.raises(ValueError):
        with fastgrad.no_grad():
            raise ValueError("boom")
    assert fastgrad.is_grad_enabled()


def test_set_grad_enabled():
    x = fastgrad.tensor([1.0], requires_grad=True)
    with fastgrad.set_grad_enabled(False):
        assert (x * 2).grad_fn is None
    assert (x * 2).grad_fn is not None
    fastgrad.set_grad_enabled(False)
    try:
        assert not fastgrad.is_grad_enabled()
    finally:
        fastgrad.set_grad_enabled(True)
    assert fastgrad.is_grad_enabled()

    @fastgrad.set_grad_enabled(False)
    def untracked(t):
        return t * 2

    assert fastgrad.is_grad_enabled()  # making the decorator does not switch the mode
    assert untracked(x).grad_fn is None and fastgrad.is_grad_enabled()


def test_detach_shares_data_but_not_the_graph():
    x = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert d.grad_fn is None and not d.requires_grad
    assert np.shares_memory(d.arr, y.arr)
    (y * d).sum().backward()  # d is a constant: dy*d/dx = 2 d
    np.testing.assert_array_equal(x.grad.arr, [4.0, 8.0])


# ---------------------------------------------------------------------------- retain_graph
def test_retain_graph_allows_a_second_backward():
    x = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).exp().sum()
    y.backward(retain_graph=True)
    first = x.grad.arr.copy()
    y.backward()
    np.testing.assert_allclose(x.grad.arr, 2 * first)


def test_second_backward_through_a_freed_graph_fails():
    x = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"second time.*retain_graph=True"):
        y.backward()


def test_sharing_a_freed_subgraph_fails_too():
    x = fastgrad.tensor([1.0], requires_grad=True)
    h = x.exp()
    h.sum().backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        (h * 2).sum().backward()


# --------------------------------------------------------------- branches without gradient
def test_a_branch_without_gradient_still_lets_the_producer_run():
    x = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    out = (_stop(y) * 5 + y * 3).sum()
    out.backward()
    np.testing.assert_array_equal(x.grad.arr, [6.0, 6.0])


def test_a_node_reached_by_no_gradient_still_releases_its_producers():
    # y feeds p = y.exp(), and p only reaches the output through a node returning None: the
    # exp node gets no gradient at all, yet y's node must still run for the other branch.
    x = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    p = y.exp()
    out = (_stop(p) + y).sum()
    out.backward()
    np.testing.assert_array_equal(x.grad.arr, [2.0, 2.0])


def test_a_branch_that_gets_no_gradient_at_all():
    x = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    out = _stop(x * 2).sum()
    out.backward()
    assert x.grad is None


def test_index_branch_and_constant_branch():
    x = fastgrad.tensor([1.0, 5.0, 2.0], requires_grad=True)
    y = x * 2
    i = y.argmax()  # an integer result: no gradient flows through it
    c = fastgrad.tensor([1.0, 1.0, 1.0])
    k = c * 4 + c.exp()  # a branch made only of constants
    out = y[i] + (y * k).sum()
    out.backward()
    expected = 2 * (4 + np.e) * np.ones(3)
    expected[1] += 2
    np.testing.assert_allclose(x.grad.arr, expected, rtol=1e-6)


def test_unused_leaf_gets_no_gradient():
    x = fastgrad.tensor([1.0], requires_grad=True)
    unused = fastgrad.tensor([1.0], requires_grad=True)
    _ = unused * 2
    (x * 2).sum().backward()
    assert unused.grad is None


# ---------------------------------------------------------------------------- no aliasing
def test_gradients_of_shared_inputs_are_not_aliased():
    a = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    b = fastgrad.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad.arr[0] = 100.0
    np.testing.assert_array_equal(b.grad.arr, [1.0, 1.0])
    assert a.grad.arr.flags.writeable and b.grad.arr.flags.writeable


def test_gradient_is_not_aliased_with_the_given_gradient_or_other_leaves():
    x = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    w = fastgrad.tensor([1.0, 1.0], requires_grad=True)
    g = np.array([5.0, 6.0], dtype=np.float32)
    (x + 0).backward(g)
    x.grad.arr[0] = -1.0
    assert g[0] == 5.0
    w.backward(g)
    g[1] = -1.0
    assert w.grad.arr[1] == 6.0
    # Accumulation makes a new array: an old reference to the first gradient is not mutated.
    first = x.grad.arr
    (x * 1).sum().backward()
    assert first[1] == 6.0 and x.grad.arr[1] == 7.0


def test_broadcast_gradients_are_writable_copies():
    x = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    y = fastgrad.tensor(1.0, requires_grad=True)
    (x.sum() + (x + y).sum()).backward()
    x.grad.arr[0] = 0.0  # must not raise (a read-only broadcast view would)
    assert y.grad.item() == 2.0


# --------------------------------------------------------------------------- version checks
def test_setitem_on_a_saved_tensor_is_detected():
    w = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    a = fastgrad.tensor([3.0, 4.0], requires_grad=True)
    x = a * 1  # a non-leaf that Mul saves for w's gradient
    y = x * w
    x[0] = 5.0
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation.*shape \(2,\).*"
                                           r"version 1; expected version 0"):
        y.sum().backward()


def test_augmented_assignment_on_a_saved_tensor_is_detected():
    w = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    x = fastgrad.tensor([3.0, 4.0])  # a constant leaf: in-place is allowed, but Mul saved it
    y = x * w
    x += 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_writing_through_a_view_is_detected():
    w = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    base = fastgrad.tensor([1.0, 2.0, 3.0])
    view = base[:2]
    y = view * w
    base[0] = 10.0  # the view shares the version counter of its base
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


@pytest.mark.parametrize("op", ["exp", "sqrt", "sigmoid", "tanh", "softmax", "log_softmax"])
def test_modifying_a_saved_output_is_detected(op):
    # These backwards read their own output: changing it in place must not corrupt the gradient.
    x = fastgrad.tensor([0.5, 1.5], requires_grad=True)
    y = getattr(x * 1, op)(0) if "softmax" in op else getattr(x * 1, op)()
    y += 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    z = getattr(x * 1, op)(0) if "softmax" in op else getattr(x * 1, op)()
    z[0] = 0.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_in_place_ops_that_need_no_saved_data_are_fine():
    x = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    w = fastgrad.tensor([3.0, 4.0], requires_grad=True)
    y = x * 2
    y += w  # add saves nothing
    y *= w  # mul saves a copy of the old y
    y -= 1
    y /= 2
    y.sum().backward()
    # y = (2x + w) * w / 2 - 1/2
    np.testing.assert_array_equal(x.grad.arr, w.arr)
    np.testing.assert_array_equal(w.grad.arr, (2 * x.arr + 2 * w.arr) / 2)


def test_in_place_change_after_the_consumer_keeps_its_edge():
    x = fastgrad.tensor([1.0], requires_grad=True)
    y = x * 2
    z = y * 3
    y += 100  # y gets a new node; z keeps the edge it captured
    z.sum().backward()
    assert x.grad.item() == 6.0


def test_fill_and_zero_on_a_non_leaf_cut_the_gradient():
    # The old values are gone: no gradient flows to what produced them (PyTorch's FillBackward).
    x = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.fill_(3.0)
    z = x * 2
    z.zero_()
    (y + z + x).sum().backward()
    assert y.tolist() == [3.0, 3.0] and z.tolist() == [0.0, 0.0]
    np.testing.assert_array_equal(x.grad.arr, [1.0, 1.0])


def test_in_place_on_a_leaf_is_allowed_under_no_grad():
    x = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    with fastgrad.no_grad():
        x -= 0.5
        x[0] = 7.0
        x.mul_(2)
    assert x.is_leaf and x.requires_grad and x.grad_fn is None
    np.testing.assert_array_equal(x.arr, [14.0, 3.0])
    assert x._version == 3
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.arr, [28.0, 6.0])


def test_zero_dim_leaf_gradient_stays_an_array_when_accumulated():
    w = fastgrad.tensor(2.0, requires_grad=True)
    (w * w).backward()
    (w * w).backward()
    assert isinstance(w.grad.arr, np.ndarray) and w.grad.arr.shape == ()
    assert w.grad.item() == 8.0


def test_retain_grad_keeps_a_non_leaf_gradient_and_accumulates_as_pytorch():
    x = fastgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = x * 2
    assert not h.retains_grad
    h.retain_grad()
    h.retain_grad()  # twice is once
    assert h.retains_grad and not x.retains_grad
    y = (h * h).sum()
    y.retain_grad()
    y.backward(retain_graph=True)
    assert h.grad.tolist() == [4.0, 8.0, 12.0] and y.grad.tolist() == 1.0
    y.backward()
    assert h.grad.tolist() == [8.0, 16.0, 24.0]  # accumulated, as a leaf's
    assert x.grad.tolist() == [16.0, 32.0, 48.0]
    other = x * 3
    other.sum().backward()
    assert other.grad is None  # not asked for
    with pytest.raises(RuntimeError, match="requires_grad=False"):
        fastgrad.ones(2).retain_grad()

