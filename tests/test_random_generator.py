"""fastgrad.Generator (torch.Generator's seeding API on a numpy Generator) and the global one."""
import pickle

import numpy as np
import pytest

import fastgrad
from fastgrad import nn

PYTORCH_DEFAULT_SEED = 67280421310721


def test_new_generator_starts_from_pytorchs_default_seed():
    g = fastgrad.Generator()
    assert g.initial_seed() == PYTORCH_DEFAULT_SEED and g.device == "cpu"
    h = fastgrad.Generator().manual_seed(PYTORCH_DEFAULT_SEED)
    np.testing.assert_array_equal(fastgrad.randn(5, generator=g).numpy(),
                                  fastgrad.randn(5, generator=h).numpy())


def test_manual_seed_repeats_streams_independent_of_the_global_one():
    g = fastgrad.Generator()
    assert g.manual_seed(7) is g and g.initial_seed() == 7
    draws = [fastgrad.rand(3, generator=g), fastgrad.randint(0, 100, (4,), generator=g),
             fastgrad.randperm(6, generator=g), fastgrad.randn(2, 2, generator=g)]
    g.manual_seed(7)
    fastgrad.manual_seed(123)
    fastgrad.randn(10)  # the global generator does not disturb g
    again = [fastgrad.rand(3, generator=g), fastgrad.randint(0, 100, (4,), generator=g),
             fastgrad.randperm(6, generator=g), fastgrad.randn(2, 2, generator=g)]
    for a, b in zip(draws, again):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(fastgrad.rand(3, generator=g).numpy(), draws[0].numpy())


def test_negative_and_out_of_range_seeds_follow_pytorch():
    g = fastgrad.Generator()
    assert g.manual_seed(-1).initial_seed() == 0xFFFF_FFFF_FFFF_FFFF - 1
    with pytest.raises(RuntimeError, match="Overflow"):
        g.manual_seed(2**64)
    with pytest.raises(TypeError, match="int"):
        g.manual_seed(1.5)


def test_seed_draws_a_new_seed():
    g = fastgrad.Generator()
    s = g.seed()
    assert isinstance(s, int) and 0 <= s < 2**63 and g.initial_seed() == s
    assert fastgrad.Generator().manual_seed(s).random() == g.random()


def test_get_and_set_state_round_trip():
    g = fastgrad.Generator().manual_seed(3)
    g.integers(0, 10, dtype=np.uint32)  # leaves half a 64-bit draw buffered
    state = g.get_state()
    assert state.dtype == np.uint8 and state.ndim == 1
    first = fastgrad.randn(4, generator=g).numpy()
    other = fastgrad.Generator().manual_seed(99)
    assert other.set_state(state) is other and other.initial_seed() == 3
    np.testing.assert_array_equal(fastgrad.randn(4, generator=other).numpy(), first)
    with pytest.raises(TypeError, match="uint8"):
        g.set_state(state.numpy())
    with pytest.raises(RuntimeError, match="uint8"):
        g.set_state(state.float())
    with pytest.raises(RuntimeError, match="size"):
        g.set_state(state[:5])


def test_global_generator_helpers():
    returned = fastgrad.manual_seed(5)
    assert isinstance(returned, fastgrad.Generator) and fastgrad.initial_seed() == 5
    state = fastgrad.get_rng_state()
    a = fastgrad.randn(3).numpy()
    fastgrad.set_rng_state(state)
    np.testing.assert_array_equal(fastgrad.randn(3).numpy(), a)
    assert fastgrad.manual_seed(6) is returned  # one object, reseeded in place
    assert isinstance(fastgrad.seed(), int)


def test_generator_pickles_with_its_state():
    g = fastgrad.Generator().manual_seed(11)
    g.random(3)
    copy = pickle.loads(pickle.dumps(g))
    assert isinstance(copy, fastgrad.Generator) and copy.initial_seed() == 11
    assert copy.random() == g.random()


def test_generator_reaches_init_dropout_and_loaders():
    g, h = fastgrad.Generator().manual_seed(1), fastgrad.Generator().manual_seed(1)
    a, b = nn.Linear(4, 3), nn.Linear(4, 3)
    nn.init.normal_(a.weight, generator=g)
    nn.init.normal_(b.weight, generator=h)
    np.testing.assert_array_equal(a.weight.detach().numpy(), b.weight.detach().numpy())
    x = fastgrad.ones(50)
    np.testing.assert_array_equal(nn.functional.dropout(x, 0.5, generator=g).numpy(),
                                  nn.functional.dropout(x, 0.5, generator=h).numpy())


def test_generator_refuses_other_devices():
    with pytest.raises(AssertionError, match="CUDA"):
        fastgrad.Generator(device="cuda")
