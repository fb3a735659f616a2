"""Constructors (dtype=, requires_grad=, size spellings) and the seeded random generator."""
import numpy as np
import pytest

import fastgrad


@pytest.mark.parametrize("name,value", [("zeros", 0.0), ("ones", 1.0)])
def test_zeros_ones(name, value):
    ctor = getattr(fastgrad, name)
    for t in (ctor(2, 3), ctor((2, 3)), ctor([2, 3])):
        assert t.shape == (2, 3) and t.dtype == np.float32
        assert np.all(t.arr == value)
    assert ctor().shape == () and ctor(0).shape == (0,)
    assert ctor(2, dtype=fastgrad.int64).dtype == np.int64
    assert ctor(2, dtype=fastgrad.float64).dtype == np.float64
    g = ctor(2, requires_grad=True)
    assert g.requires_grad and g.is_leaf
    with pytest.raises(RuntimeError, match="floating point"):
        ctor(2, dtype=fastgrad.int64, requires_grad=True)


def test_empty():
    e = fastgrad.empty(3, 2)
    assert e.shape == (3, 2) and e.dtype == np.float32
    assert fastgrad.empty(2, dtype=fastgrad.float64, requires_grad=True).requires_grad
    assert fastgrad.empty_like(fastgrad.ones(2, dtype=fastgrad.int32)).dtype == np.int32


def test_like_constructors():
    base = fastgrad.tensor([[1.0, 2.0, 3.0]], dtype=fastgrad.float64)
    for t, value in ((fastgrad.zeros_like(base), 0.0), (fastgrad.ones_like(base), 1.0),
                     (fastgrad.full_like(base, 7.0), 7.0)):
        assert t.shape == (1, 3) and t.dtype == np.float64
        assert np.all(t.arr == value) and not t.requires_grad
    assert fastgrad.zeros_like(base, dtype=fastgrad.float32).dtype == np.float32
    assert fastgrad.ones_like(base, requires_grad=True).requires_grad
    assert fastgrad.zeros_like(fastgrad.tensor([1, 2])).dtype == np.int64
    r = fastgrad.randn_like(base)
    assert r.shape == (1, 3) and r.dtype == np.float64
    r = fastgrad.rand_like(base, dtype=fastgrad.float32)
    assert r.dtype == np.float32 and np.all((r.arr >= 0) & (r.arr < 1))


def test_full():
    t = fastgrad.full((2, 2), 1.5)
    assert t.shape == (2, 2) and t.dtype == np.float32 and np.all(t.arr == 1.5)
    assert fastgrad.full((3,), 2).dtype == np.int64  # as torch.full with an int value
    assert fastgrad.full((3,), True).dtype == np.bool_
    assert fastgrad.full(3, 2.0).shape == (3,)
    f = fastgrad.full((2,), 2, dtype=fastgrad.float64, requires_grad=True)
    assert f.dtype == np.float64 and f.requires_grad and f.tolist() == [2.0, 2.0]


def test_tensor_constructor():
    t = fastgrad.tensor([[1.0, 2.0]], requires_grad=True)
    assert t.shape == (1, 2) and t.dtype == np.float32 and t.requires_grad
    assert fastgrad.tensor(3).dtype == np.int64 and fastgrad.tensor(3).shape == ()
    assert fastgrad.tensor([1, 2], dtype=fastgrad.float32).dtype == np.float32
    with pytest.raises(RuntimeError, match=r"floating point dtype.*int64"):
        fastgrad.tensor([1, 2], requires_grad=True)


@pytest.mark.parametrize("args,kwargs,expected,dtype", [
    ((5,), {}, np.arange(5), np.int64),
    ((2, 7), {}, np.arange(2, 7), np.int64),
    ((0, 10, 3), {}, np.arange(0, 10, 3), np.int64),
    ((5, 0, -2), {}, np.arange(5, 0, -2), np.int64),
    ((0.0, 1.0, 0.25), {}, np.arange(0.0, 1.0, 0.25), np.float32),  # any float: float32
    ((3,), {"dtype": fastgrad.float64}, np.arange(3.0), np.float64),
])
def test_arange(args, kwargs, expected, dtype):
    t = fastgrad.arange(*args, **kwargs)
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.arr, expected)


def test_arange_errors_and_grad():
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        fastgrad.arange(0, 5, 0)
    assert fastgrad.arange(3.0, requires_grad=True).requires_grad


def test_linspace_eye():
    np.testing.assert_allclose(fastgrad.linspace(0, 1, 5).arr, np.linspace(0, 1, 5))
    assert fastgrad.linspace(0, 1, 5).dtype == np.float32
    np.testing.assert_array_equal(fastgrad.eye(3).arr, np.eye(3))
    assert fastgrad.eye(2, 3, dtype=fastgrad.float64).shape == (2, 3)


@pytest.mark.parametrize("name", ["randn", "rand"])
def test_random_constructors(name):
    ctor = getattr(fastgrad, name)
    fastgrad.manual_seed(0)
    t = ctor(200, 5)
    assert t.shape == (200, 5) and t.dtype == np.float32
    assert ctor((2, 3)).shape == (2, 3)
    assert ctor(3, dtype=fastgrad.float64).dtype == np.float64
    assert ctor(3, requires_grad=True).requires_grad
    if name == "rand":
        assert t.arr.min() >= 0.0 and t.arr.max() < 1.0 and abs(t.arr.mean() - 0.5) < 0.05
    else:
        assert abs(t.arr.mean()) < 0.1 and abs(t.arr.std() - 1.0) < 0.1


def test_manual_seed_repeats_the_samples():
    fastgrad.manual_seed(42)
    a, b = fastgrad.randn(5), fastgrad.rand(3)
    fastgrad.manual_seed(42)
    np.testing.assert_array_equal(fastgrad.randn(5).arr, a.arr)
    np.testing.assert_array_equal(fastgrad.rand(3).arr, b.arr)
    assert fastgrad.initial_seed() == 42
    fastgrad.manual_seed(43)
    assert not np.array_equal(fastgrad.randn(5).arr, a.arr)
    with pytest.raises(TypeError, match="expects an int"):
        fastgrad.manual_seed(1.5)


def test_manual_seed_also_drives_randint_randperm_and_init():
    fastgrad.manual_seed(7)
    first = (fastgrad.randint(0, 10, (4,)).tolist(), fastgrad.randperm(6).tolist(),
             fastgrad.empty(3).normal_().tolist())
    fastgrad.manual_seed(7)
    second = (fastgrad.randint(0, 10, (4,)).tolist(), fastgrad.randperm(6).tolist(),
              fastgrad.empty(3).normal_().tolist())
    assert first == second
    assert sorted(first[1]) == list(range(6))
    assert all(0 <= v < 10 for v in first[0])


def test_explicit_generator():
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    np.testing.assert_array_equal(fastgrad.randn(4, generator=g1).arr,
                                  fastgrad.randn(4, generator=g2).arr)


def test_randint():
    r = fastgrad.randint(3, 5, (100,))
    assert r.dtype == np.int64 and set(r.tolist()) <= {3, 4}
    assert fastgrad.randint(5, size=(2, 2)).shape == (2, 2)
    assert fastgrad.randperm(4).dtype == np.int64
    # PyTorch's randint(high, size): the second argument is the size, not the high bound
    r = fastgrad.randint(3, (50,))
    assert r.shape == (50,) and set(r.tolist()) <= {0, 1, 2}
    with pytest.raises(RuntimeError, match="low to be less than high, but got low=5 >= high=5"):
        fastgrad.randint(5, 5, (2,))


def test_bad_ranges_are_runtime_errors_as_in_pytorch():
    with pytest.raises(RuntimeError, match="number of steps must be non-negative, got -1"):
        fastgrad.linspace(0, 1, -1)
    with pytest.raises(RuntimeError, match="n must be greater or equal to 0, got -1"):
        fastgrad.eye(-1)
    with pytest.raises(RuntimeError, match="m must be greater or equal to 0, got -2"):
        fastgrad.eye(2, -2)
    with pytest.raises(RuntimeError, match=r"inconsistent with step sign \(start=5, end=0, step=1\)"):
        fastgrad.arange(5, 0, 1)
    assert fastgrad.arange(5, 0, -2).tolist() == [5, 3, 1]
    assert fastgrad.arange(3, 3).shape == (0,)
    steps = fastgrad.arange(fastgrad.tensor(3))  # a 0-d int tensor is an int bound
    assert steps.dtype == np.int64 and steps.tolist() == [0, 1, 2]


def test_bad_sizes_are_refused_as_pytorch_does():
    with pytest.raises(RuntimeError, match=r"negative dimension -1: \[2, -1\]"):
        fastgrad.zeros(2, -1)
    with pytest.raises(RuntimeError, match="negative dimension"):
        fastgrad.randn((3, -2))
    with pytest.raises(TypeError, match="sizes must be ints"):
        fastgrad.ones(2, 1.5)
