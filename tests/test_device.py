"""Device shims for ported PyTorch code: fastgrad.device, fastgrad.cuda, Tensor/Module device
methods, device= on the constructors, from_numpy and numpy() sharing memory."""
import pickle

import numpy as np
import pytest

import fastgrad
from fastgrad import nn


def test_device_parses_and_prints_as_pytorch():
    cpu = fastgrad.device("cpu")
    assert (cpu.type, cpu.index) == ("cpu", None)
    assert repr(cpu) == "device(type='cpu')" and str(cpu) == "cpu"
    numbered = fastgrad.device("cpu", 0)
    assert (numbered.type, numbered.index) == ("cpu", 0)
    assert repr(numbered) == "device(type='cpu', index=0)" and str(numbered) == "cpu:0"
    assert fastgrad.device("cpu:0") == numbered and fastgrad.device(numbered) is numbered
    assert fastgrad.device("cuda:1").index == 1  # naming a GPU is allowed, as in PyTorch
    assert cpu != numbered and len({cpu, fastgrad.device("cpu"), numbered}) == 2
    assert pickle.loads(pickle.dumps(numbered)) == numbered
    assert repr(pickle.loads(pickle.dumps(numbered))) == repr(numbered)


def test_device_equals_its_string_form():
    # PyTorch answers False here (pytorch/pytorch#153418); fastgrad keeps `x.device == "cpu"`
    # true, since its devices are their own strings.
    assert fastgrad.device("cpu") == "cpu" and fastgrad.device("cpu", 0) == "cpu:0"
    assert fastgrad.device("cpu", 0) != "cpu"


@pytest.mark.parametrize("args, message", [
    (("gpu",), "Expected one of cpu, cuda.* device type at start of device string: gpu"),
    (("cpu:0", 0), "must not include an index because index was passed explicitly: cpu:0"),
    (("cpu", -1), "Device index must not be negative"),
    (("cpu:x",), "Invalid device string: 'cpu:x'"),
])
def test_bad_devices_raise_runtime_error(args, message):
    with pytest.raises(RuntimeError, match=message):
        fastgrad.device(*args)


def test_cuda_is_absent():
    assert fastgrad.cuda.is_available() is False and fastgrad.cuda.device_count() == 0
    fastgrad.cuda.manual_seed_all(0)  # accepted, as in PyTorch without a GPU
    device = fastgrad.device("cuda" if fastgrad.cuda.is_available() else "cpu")
    assert fastgrad.zeros(2, device=device).device == device
    with pytest.raises(AssertionError, match="fastgrad not compiled with CUDA enabled"):
        fastgrad.cuda.current_device()


def test_tensor_device_cpu_and_cuda():
    x = fastgrad.randn(2, 3, requires_grad=True)
    assert isinstance(x.device, fastgrad.device) and x.device.type == "cpu"
    assert x.device == fastgrad.device("cpu") and x.is_cuda is False
    assert x.cpu() is x
    assert x.to(fastgrad.device("cpu")) is x and x.to(fastgrad.device("cpu", 0), fastgrad.float64).dtype == np.float64
    with pytest.raises(AssertionError, match="not compiled with CUDA"):
        x.cuda()


def test_constructors_take_a_cpu_device_only():
    assert fastgrad.zeros(2, device="cpu").shape == (2,)
    assert fastgrad.tensor([1.0], device=fastgrad.device("cpu")).device == "cpu"
    assert fastgrad.arange(3, device="cpu:0").tolist() == [0, 1, 2]
    assert fastgrad.randn_like(fastgrad.zeros(2), device="cpu").shape == (2,)
    with pytest.raises(AssertionError, match="CUDA"):
        fastgrad.ones(2, device="cuda")
    with pytest.raises(RuntimeError, match="'mps' device is not available"):
        fastgrad.randperm(3, device="mps")


def test_module_to_cpu_and_cuda():
    model = nn.Linear(3, 2)
    weight = model.weight
    assert model.to("cpu") is model and model.to(fastgrad.device("cpu")) is model
    assert model.cpu() is model and model.weight is weight
    assert model.to("cpu", fastgrad.float64).weight.dtype == np.float64
    assert model.to(device="cpu", dtype=fastgrad.float32).weight.dtype == np.float32
    assert model.to(fastgrad.zeros(1, dtype=fastgrad.float64)).weight.dtype == np.float64
    assert model.weight is weight
    with pytest.raises(AssertionError, match="CUDA"):
        model.cuda()
    with pytest.raises(AssertionError, match="CUDA"):
        model.to("cuda")
    with pytest.raises(TypeError, match="floating point dtypes.*int64"):
        model.to(fastgrad.int64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32, np.uint8, np.bool_])
def test_from_numpy_shares_memory_and_keeps_dtype(dtype):
    arr = np.arange(6).reshape(2, 3).astype(dtype)
    t = fastgrad.from_numpy(arr)
    assert t.dtype == dtype and t.shape == (2, 3)
    arr[0, 0] = 1
    assert t.numpy()[0, 0] == 1
    t[1, 2] = 0
    assert arr[1, 2] == 0
    assert t.numpy() is arr or np.shares_memory(t.numpy(), arr)


def test_from_numpy_refuses_other_input():
    with pytest.raises(TypeError, match=r"expected np.ndarray \(got list\)"):
        fastgrad.from_numpy([1.0, 2.0])
    with pytest.raises(TypeError, match="can't convert np.ndarray of type numpy.object"):
        fastgrad.from_numpy(np.array([None, 1]))


def test_numpy_shares_memory_and_refuses_tensors_that_require_grad():
    t = fastgrad.zeros(3)
    t.numpy()[1] = 5.0
    assert t.tolist() == [0.0, 5.0, 0.0]
    w = fastgrad.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Can't call numpy\(\) on Tensor that requires grad. "
                                           r"Use tensor.detach\(\).numpy\(\) instead."):
        w.numpy()
    w.detach().numpy()[0] = 2.0
    assert w.detach().tolist()[0] == 2.0
