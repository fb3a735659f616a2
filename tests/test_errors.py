"""Every documented error: its type, and a message that names the shapes or values involved."""
import numpy as np
import pytest

import fastgrad


@pytest.mark.parametrize("op", [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b,
                                lambda a, b: a / b, lambda a, b: a ** b,
                                lambda a, b: fastgrad.where(fastgrad.tensor(True), a, b)])
def test_shapes_that_do_not_broadcast(op):
    a, b = fastgrad.ones(2, 3), fastgrad.ones(4, 1, 2)
    message = (r"size of tensor a \(3\) must match the size of tensor b \(2\) at non-singleton "
               r"dimension 2 \(shapes \(2, 3\) and \(4, 1, 2\)\)")
    with pytest.raises(RuntimeError, match=message):
        op(a, b)


def test_shapes_that_do_not_broadcast_with_an_ndarray():
    with pytest.raises(RuntimeError, match=r"\(3,\) and \(2,\)"):
        fastgrad.ones(3) + np.ones(2)
    with pytest.raises(RuntimeError, match=r"\(2,\) and \(3,\)"):
        np.ones(2) * fastgrad.ones(3)


def test_where_condition_that_does_not_broadcast_is_named():
    with pytest.raises(RuntimeError, match=r"tensor a \(3\) must match the size of tensor b \(2\).*"
                                           r"\(shapes \(3,\) and \(2,\)\)"):
        fastgrad.where(fastgrad.ones(3) > 0, fastgrad.ones(2), 0.0)


@pytest.mark.parametrize("a_shape,b_shape,names", [
    ((2, 3), (4, 5), r"\(2x3 and 4x5\)"),
    ((3,), (4,), r"\(3 and 4\)"),
    ((2, 2, 3), (5, 3, 4), r"\(2x2x3 and 5x3x4\)"),
    ((3,), (2, 4), r"\(3 and 2x4\)"),
])
def test_matmul_shapes_that_do_not_multiply(a_shape, b_shape, names):
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied " + names):
        fastgrad.ones(*a_shape) @ fastgrad.ones(*b_shape)


def test_matmul_of_a_scalar():
    with pytest.raises(RuntimeError, match="at least 1D, but they are 0D and 1D"):
        fastgrad.matmul(fastgrad.tensor(2.0), fastgrad.ones(3))


def test_backward_of_a_non_scalar_needs_a_gradient():
    x = fastgrad.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"only for scalar outputs; this tensor has shape "
                                           r"\(2, 3\)"):
        (x * 2).backward()


def test_backward_of_a_tensor_outside_the_graph():
    with pytest.raises(RuntimeError, match=r"does not require grad and does not have a grad_fn "
                                           r"\(a tensor of shape \(1,\)"):
        fastgrad.ones(1).backward()
    x = fastgrad.ones(1, requires_grad=True)
    with fastgrad.no_grad():
        y = x * 2
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_second_backward_names_retain_graph():
    x = fastgrad.ones(3, requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    # sum and the product by a number saved no array: the error comes from exp, whose saved
    # output is gone (where PyTorch stops too)
    with pytest.raises(RuntimeError, match=r"backward through the graph a second time \(at "
                                           r"ExpGradFn\).*retain_graph=True"):
        y.backward()
    np.testing.assert_allclose(x.grad.arr, [2 * np.e] * 3, rtol=1e-6)  # the first backward only


def test_a_second_backward_through_nodes_that_saved_no_array_works_as_in_pytorch():
    x = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    h = (x + 1).reshape(2, 1)[:, 0]  # add, reshape, basic indexing: shapes only
    h.sum().backward()
    (h * h).sum().backward()  # through h's nodes again, without retain_graph
    assert x.grad.tolist() == [1 + 2 * 2.0, 1 + 2 * 3.0]
    y = x * x
    y.sum().backward()
    with pytest.raises(RuntimeError, match=r"second time \(at MulGradFn\)"):
        y.sum().backward()  # the product saved its operands


def test_modified_saved_tensor_names_shape_and_versions():
    w = fastgrad.ones(2, 2, requires_grad=True)
    x = fastgrad.ones(2, 2, requires_grad=True) * 1
    y = x * w
    x[0] = 5.0
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation: a tensor of shape "
                                           r"\(2, 2\) saved by MulGradFn is at version 1; "
                                           r"expected version 0"):
        y.sum().backward()


def test_augmented_assignment_of_a_saved_tensor():
    w = fastgrad.ones(3, requires_grad=True)
    x = w * 1
    y = (x @ w)  # matmul saves x for w's gradient
    x += 1
    with pytest.raises(RuntimeError, match=r"shape \(3,\) saved by MatMulGradFn is at version 1"):
        y.backward()


@pytest.mark.parametrize("write", [
    lambda x: x.__setitem__(0, 1.0),
    lambda x: x.__iadd__(1.0),
    lambda x: x.mul_(2.0),
    lambda x: x.fill_(0.0),
    lambda x: x.zero_(),
    lambda x: x.normal_(),
])
def test_in_place_on_a_leaf_that_requires_grad(write):
    x = fastgrad.ones(3, requires_grad=True)
    message = r"a leaf Variable that requires grad \(shape \(3,\)\) is being used in an in-place"
    with pytest.raises(RuntimeError, match=message):
        write(x)
    assert x.tolist() == [1.0, 1.0, 1.0] and x._version == 0
    with fastgrad.no_grad():
        write(x)  # allowed: e.g. an optimizer step
    assert x._version == 1 and x.is_leaf and x.requires_grad


def test_in_place_through_a_view_of_a_leaf_that_requires_grad():
    x = fastgrad.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"a view \(shape \(3,\)\) of a leaf Variable that "
                                           r"requires grad \(shape \(2, 3\)\)"):
        x[0][1] = 5.0


def test_requires_grad_on_integers():
    with pytest.raises(RuntimeError, match=r"only Tensors of floating point dtype can require "
                                           r"gradients \(got int64\)"):
        fastgrad.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"\(got int32\)"):
        fastgrad.zeros(2, dtype=fastgrad.int32, requires_grad=True)


@pytest.mark.parametrize("gradient", [np.ones(3), np.ones((2, 3, 1)), 1.0])
def test_gradient_of_the_wrong_shape(gradient):
    x = fastgrad.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"gradient has a shape of \S+.*output has a shape of "
                                           r"\(2, 3\)"):
        (x * 2).backward(gradient)


@pytest.mark.parametrize("idx,named", [
    (3, r"index 3 is invalid for a tensor of shape \(3, 2\)"),
    (-4, r"index -4 .*shape \(3, 2\)"),
    ((0, 2), r"index \(0, 2\) .*shape \(3, 2\)"),
    ([0, 5], r"index \[0, 5\] .*shape \(3, 2\)"),
    ((0, 0, 0), r"too many indices"),
    (np.array([True, False]), r"shape \(3, 2\)"),
])
def test_index_out_of_range(idx, named):
    x = fastgrad.ones(3, 2, requires_grad=True)
    with pytest.raises(IndexError, match=named):
        x[idx]
    y = x * 1
    with pytest.raises(IndexError, match=named):
        y[idx] = 1.0


@pytest.mark.parametrize("call", [
    lambda x: x.sum(3), lambda x: x.mean(-4), lambda x: x.max(3), lambda x: x.amax((0, 3)),
    lambda x: x.softmax(3), lambda x: x.transpose(0, 3), lambda x: x.unsqueeze(4),
    lambda x: x.squeeze(3), lambda x: x.flatten(0, 3), lambda x: x.argmax(-4),
    lambda x: x.permute(0, 1, 3), lambda x: fastgrad.cat([x, x], 3), lambda x: x.size(3),
    lambda x: x.var(3), lambda x: x.log_softmax(-4),
])
def test_bad_dim(call):
    x = fastgrad.ones(2, 3, 4)
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of "
                                         r"\[-\d, \d\], but got -?\d\)"):
        call(x)


@pytest.mark.parametrize("call,named", [
    (lambda x: x.reshape(4, 2), r"shape '\[4, 2\]' is invalid for input of size 6 \(input shape "
                                r"\(2, 3\)\)"),
    (lambda x: x.view(-1, 4), r"shape '\[-1, 4\]' is invalid for input of size 6"),
    (lambda x: fastgrad.reshape(x, (7,)), r"'\[7\]' is invalid for input of size 6"),
    (lambda x: x.view_as(fastgrad.ones(5)), r"'\[5\]' is invalid for input of size 6"),
])
def test_reshape_to_a_wrong_size(call, named):
    with pytest.raises(RuntimeError, match=named):
        call(fastgrad.ones(2, 3))


def test_expand_to_an_incompatible_shape():
    with pytest.raises(RuntimeError, match=r"expanded size of the tensor \(\(2, 4\)\) must match "
                                           r"the existing size \(\(2, 3\)\)"):
        fastgrad.ones(2, 3).expand(2, 4)
    message = (r"number of sizes provided \(1\) must be greater or equal to the number of "
               r"dimensions in the tensor \(2\)")
    with pytest.raises(RuntimeError, match=message):
        fastgrad.ones(2, 3).expand(3)


def test_setitem_value_of_the_wrong_shape():
    x = fastgrad.zeros(3, 2)
    with pytest.raises(RuntimeError, match=r"value of shape \(3,\) to the elements 0 of a tensor "
                                           r"of shape \(3, 2\)"):
        x[0] = fastgrad.ones(3)


def test_gradcheck_names_dtype():
    x = fastgrad.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match="input 0 has dtype float32"):
        fastgrad.gradcheck(lambda t: t * 2, [x])
