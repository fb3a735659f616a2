"""Module registration, traversal, modes, state dicts, containers, save/load."""
import collections

import numpy as np
import pytest

import fastgrad
from fastgrad import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.act = nn.ReLU()
        self.scale = nn.Parameter(fastgrad.ones(4))
        self.register_buffer("running", fastgrad.zeros(4))
        self.register_buffer("scratch", fastgrad.zeros(2), persistent=False)
        self.plain = 5  # an ordinary attribute, not registered

    def forward(self, x):
        return self.act(self.fc(x)) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.head = nn.Sequential(nn.Linear(4, 2), nn.Tanh())

    def forward(self, x):
        return self.head(self.block(x))


def test_parameters_and_modules_are_registered_by_assignment():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["block.scale", "block.fc.weight", "block.fc.bias", "head.0.weight", "head.0.bias"] or \
        sorted(names) == sorted(["block.scale", "block.fc.weight", "block.fc.bias", "head.0.weight", "head.0.bias"])
    assert len(list(net.parameters())) == 5
    assert [type(m).__name__ for m in net.children()] == ["Block", "Sequential"]
    assert [n for n, _ in net.named_modules()] == ["", "block", "block.fc", "block.act", "head", "head.0", "head.1"]
    assert "plain" not in dict(net.block.named_parameters())
    assert net.block.plain == 5
    assert [n for n, _ in net.named_buffers()] == ["block.running", "block.scratch"]


def test_shared_parameter_is_listed_once():
    net = nn.Module()
    layer = nn.Linear(2, 2)
    net.a = layer
    net.b = layer
    assert len(list(net.parameters())) == 2


def test_reassigning_and_deleting_attributes():
    block = Block()
    block.scale = None
    assert block.scale is None
    assert "scale" not in dict(block.named_parameters())
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'scale'"):
        block.scale = fastgrad.ones(4)
    del block.fc
    assert not hasattr(block, "fc")
    with pytest.raises(AttributeError, match="has no attribute 'missing'"):
        block.missing


def test_register_errors():
    m = nn.Module()
    with pytest.raises(TypeError, match="cannot assign 'Tensor' object to parameter 'w'"):
        m.register_parameter("w", fastgrad.ones(2))
    with pytest.raises(KeyError, match="cannot contain"):
        m.register_buffer("a.b", fastgrad.ones(2))
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("x", 3)


def test_a_name_is_never_taken_over_by_another_kind():
    # PyTorch: KeyError, and the registered entry stays as it was.
    lin = nn.Linear(2, 2)
    weight = lin.weight
    with pytest.raises(KeyError, match="attribute 'weight' already exists"):
        lin.register_buffer("weight", fastgrad.ones(2))
    with pytest.raises(KeyError, match="attribute 'weight' already exists"):
        lin.add_module("weight", nn.ReLU())
    lin.register_buffer("steps", fastgrad.zeros(1))
    with pytest.raises(KeyError, match="attribute 'steps' already exists"):
        lin.register_parameter("steps", nn.Parameter(fastgrad.zeros(1)))
    assert lin.weight is weight and [n for n, _ in lin.named_parameters()] == ["weight", "bias"]
    lin.register_parameter("weight", nn.Parameter(fastgrad.zeros(2, 2)))  # same kind: replaced
    assert lin.weight is not weight


def test_train_eval_and_zero_grad():
    net = Net()
    assert all(m.training for m in net.modules())
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net(fastgrad.randn(5, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.arr.any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_state_dict_round_trip_copies_values_into_the_same_parameters():
    fastgrad.manual_seed(0)
    a = Net()
    fastgrad.manual_seed(1)
    b = Net()
    state = a.state_dict()
    assert list(state) == ["block.scale", "block.running", "block.fc.weight", "block.fc.bias",
                           "head.0.weight", "head.0.bias"] or set(state) == {
        "block.scale", "block.running", "block.fc.weight", "block.fc.bias", "head.0.weight", "head.0.bias"}
    assert "block.scratch" not in state  # non-persistent
    weight_before = b.block.fc.weight
    result = b.load_state_dict(state)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert b.block.fc.weight is weight_before
    for key, value in a.state_dict().items():
        np.testing.assert_array_equal(b.state_dict()[key].arr, value.arr)
    x = fastgrad.randn(2, 3)
    np.testing.assert_array_equal(a(x).arr, b(x).arr)


def test_a_shared_module_has_keys_under_each_path_as_in_pytorch():
    shared = nn.Linear(2, 2)
    seq = nn.Sequential(shared, nn.ReLU(), shared)
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert len(list(seq.parameters())) == 2  # parameters() still lists each once
    state = {k: fastgrad.full((2, 2) if k.endswith("weight") else (2,), 3.0) for k in seq.state_dict()}
    seq.load_state_dict(state)  # strict: a checkpoint with both paths' keys loads
    np.testing.assert_array_equal(shared.weight.arr, 3.0)
    loop = nn.Sequential(nn.Linear(1, 1))
    loop.add_module("again", loop)  # a cycle is not followed
    assert list(loop.state_dict()) == ["0.weight", "0.bias"]


def test_load_state_dict_errors_name_the_keys_and_shapes():
    net = Net()
    state = net.state_dict()
    missing = collections.OrderedDict((k, v) for k, v in state.items() if k != "head.0.bias")
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "head.0.bias"'):
        net.load_state_dict(missing)
    extra = collections.OrderedDict(state, bogus=fastgrad.ones(1))
    with pytest.raises(RuntimeError, match='Unexpected key\\(s\\) in state_dict: "bogus"'):
        net.load_state_dict(extra)
    result = net.load_state_dict(missing, strict=False)
    assert result.missing_keys == ["head.0.bias"]
    wrong = collections.OrderedDict(state)
    wrong["head.0.weight"] = fastgrad.ones(3, 3)
    with pytest.raises(RuntimeError, match=r"size mismatch for head.0.weight: copying a param with shape \(3, 3\)"):
        net.load_state_dict(wrong)


def test_save_and_load_round_trip(tmp_path):
    net = Net()
    path = tmp_path / "weights.npz"
    fastgrad.save(net.state_dict(), path)
    loaded = fastgrad.load(path)
    assert list(loaded) == list(net.state_dict())
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(loaded[key].arr, value.arr)
        assert loaded[key].dtype == value.dtype
    other = Net()
    other.load_state_dict(loaded)
    x = fastgrad.randn(4, 3)
    np.testing.assert_array_equal(other(x).arr, net(x).arr)


def test_interrupted_save_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "weights.npz"
    fastgrad.save({"w": fastgrad.ones(3)}, path)
    good = path.read_bytes()

    def failing_savez(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(OSError, match="disk full"):
        fastgrad.save({"w": fastgrad.zeros(3)}, path)
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["weights.npz"]


def test_save_rejects_non_arrays(tmp_path):
    with pytest.raises(TypeError, match="cannot save 'x'"):
        fastgrad.save({"x": "text"}, tmp_path / "f.npz")


def test_sequential_indexing_len_iteration_and_slicing():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)]
    seq = nn.Sequential(*layers)
    assert len(seq) == 3
    assert seq[0] is layers[0] and seq[-1] is layers[2]
    assert list(seq) == layers
    assert list(seq[1:]) == layers[1:]
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2"]
    with pytest.raises(IndexError, match="index 3 is out of range"):
        seq[3]
    x = fastgrad.randn(4, 2)
    np.testing.assert_allclose(seq(x).arr, layers[2](layers[1](layers[0](x))).arr)
    named = nn.Sequential(collections.OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert [n for n, _ in named.named_parameters()] == ["fc.weight", "fc.bias"]


@pytest.mark.parametrize("container", [nn.Sequential, lambda *m: nn.ModuleList(m)])
def test_deleting_renumbers_so_that_append_keeps_every_module(container):
    first, act, last, extra = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1), nn.Tanh()
    seq = container(first, act, last)
    del seq[0]
    assert [n for n, _ in seq.named_children()] == ["0", "1"]  # as PyTorch renumbers
    seq.append(extra)  # named "2": it must not replace `last`, named "2" before the delete
    assert list(seq) == [act, last, extra]
    del seq[0:2]
    assert list(seq) == [extra] and [n for n, _ in seq.named_children()] == ["0"]
    with pytest.raises(IndexError, match="index 1 is out of range"):
        del seq[1]


@pytest.mark.parametrize("container", [nn.Sequential, lambda *m: nn.ModuleList(m)])
def test_insert_pop_and_extend_as_pytorch(container):
    a, b, c, d = nn.ReLU(), nn.Tanh(), nn.Sigmoid(), nn.Identity()
    seq = container(a, b)
    seq.insert(1, c)
    assert list(seq) == [a, c, b] and [n for n, _ in seq.named_children()] == ["0", "1", "2"]
    seq.insert(-1, d)  # before the last one, as list.insert
    assert list(seq) == [a, c, d, b]
    assert seq.pop(0) is a and seq.pop() is b and list(seq) == [c, d]
    seq.extend([a])
    assert list(seq) == [c, d, a]
    with pytest.raises(IndexError, match="Index out of range: 5"):
        seq.insert(5, b)


def test_sequentials_add_up():
    a, b = nn.ReLU(), nn.Tanh()
    joined = nn.Sequential(a) + nn.Sequential(b)
    assert isinstance(joined, nn.Sequential) and list(joined) == [a, b]


def test_module_list_registers_its_modules():
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    ml.append(nn.Linear(2, 1))
    assert len(ml) == 4
    holder = nn.Module()
    holder.layers = ml
    assert [n for n, _ in holder.named_parameters()][:2] == ["layers.0.weight", "layers.0.bias"]
    assert len(list(holder.parameters())) == 8


def test_repr_looks_like_pytorch():
    text = repr(nn.Sequential(nn.Linear(2, 3), nn.ReLU()))
    assert text == ("Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n"
                    "  (1): ReLU()\n)")


def test_module_to_double_casts_parameters_in_place():
    layer = nn.Linear(3, 2)
    weight = layer.weight
    layer.double()
    assert layer.weight is weight and weight.dtype == np.float64
    assert layer(fastgrad.randn(2, 3, dtype=fastgrad.float64)).dtype == np.float64


def test_forward_is_required():
    with pytest.raises(NotImplementedError, match="missing the required \"forward\""):
        nn.Module()(1)
