"""repr of large tensors summarised as PyTorch does, under fastgrad.set_printoptions."""
import numpy as np
import pytest

import fastgrad
from fastgrad.printing import get_printoptions, printoptions


@pytest.fixture(autouse=True)
def default_options():
    fastgrad.set_printoptions(profile="default")
    yield
    fastgrad.set_printoptions(profile="default")


def test_large_tensor_shows_its_ends_only():
    assert repr(fastgrad.arange(2000)) == "tensor([   0,    1,    2, ..., 1997, 1998, 1999])"
    text = repr(fastgrad.arange(2000.0, requires_grad=True))
    assert "..." in text and text.endswith("requires_grad=True)") and len(text) < 120


def test_threshold_and_edgeitems():
    x = fastgrad.arange(10)
    assert repr(x) == "tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])"
    fastgrad.set_printoptions(threshold=5, edgeitems=2)
    assert repr(x) == "tensor([0, 1, ..., 8, 9])"
    fastgrad.set_printoptions(profile="full")
    assert "..." not in repr(fastgrad.arange(5000))


def test_matrix_summarised_along_each_dim():
    fastgrad.set_printoptions(edgeitems=1)
    text = repr(fastgrad.arange(2000).reshape(40, 50))
    assert text == "tensor([[   0, ...,   49],\n        ...,\n        [1950, ..., 1999]])"


def test_precision_sci_mode_and_linewidth():
    x = fastgrad.tensor([1.0 / 3, 2.0])
    assert repr(x) == "tensor([0.3333, 2.0000])"
    fastgrad.set_printoptions(precision=2)
    assert repr(x) == "tensor([0.33, 2.00])"
    fastgrad.set_printoptions(precision=2, sci_mode=True)
    assert repr(x) == "tensor([3.33e-01, 2.00e+00])"
    fastgrad.set_printoptions(precision=4, sci_mode=False)
    assert repr(fastgrad.tensor([1e-8, 1.0])) == "tensor([0.0000, 1.0000])"
    fastgrad.set_printoptions(linewidth=30)
    assert max(map(len, repr(fastgrad.arange(20)).split("\n"))) <= 30


def test_profiles_and_context():
    fastgrad.set_printoptions(profile="short")
    assert get_printoptions() == dict(precision=2, threshold=1000, edgeitems=2, linewidth=80,
                                      sci_mode=None)
    with printoptions(threshold=np.inf):
        assert get_printoptions()["threshold"] == np.inf
    assert get_printoptions()["threshold"] == 1000
    with pytest.raises(ValueError, match="profile must be one of"):
        fastgrad.set_printoptions(profile="long")
