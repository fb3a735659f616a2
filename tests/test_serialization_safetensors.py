"""fastgrad.save / fastgrad.load in the safetensors format, both ways with PyTorch.

The fixtures are written by scripts/make_torch_safetensors.py where PyTorch is installed; these
tests need only the ``safetensors`` package.
"""
import json
import os
import struct

import numpy as np
import pytest
import safetensors.numpy as safetensors_numpy

import fastgrad
from fastgrad.models import MNISTClassificationModel

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
TORCH_CNN_KEYS = ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight",
                  "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"]


@pytest.fixture(scope="module")
def logits():
    with np.load(os.path.join(FIXTURES, "cnn_logits.npz")) as data:
        return {key: data[key] for key in data.files}


def _logits_of(state_dict, images):
    model = MNISTClassificationModel()
    model.load_state_dict(state_dict, strict=True)
    with fastgrad.no_grad():
        return model(fastgrad.tensor(images)).numpy()


def test_pytorch_trained_weights_give_pytorchs_logits(logits):
    state = fastgrad.load(os.path.join(FIXTURES, "torch_cnn.safetensors"))
    assert sorted(state) == sorted(TORCH_CNN_KEYS)
    np.testing.assert_allclose(_logits_of(state, logits["images"]),
                               logits["torch_logits_of_torch_cnn"], atol=1e-5, rtol=0)


def test_fastgrad_trained_weights_gave_pytorch_the_same_logits(logits):
    # PyTorch's logits were computed from this file by the fixture script.
    state = fastgrad.load(os.path.join(FIXTURES, "fastgrad_cnn.safetensors"))
    np.testing.assert_allclose(_logits_of(state, logits["images"]),
                               logits["torch_logits_of_fastgrad_cnn"], atol=1e-5, rtol=0)


def test_saved_file_has_pytorchs_names_dtypes_and_layouts(tmp_path):
    fastgrad.manual_seed(0)
    model = MNISTClassificationModel()
    path = tmp_path / "m.safetensors"
    fastgrad.save(model.state_dict(), path)
    # Read with safetensors itself, as safetensors.torch.load_file would.
    raw = safetensors_numpy.load_file(str(path))
    torch_file = safetensors_numpy.load_file(os.path.join(FIXTURES, "torch_cnn.safetensors"))
    assert {k: (v.dtype, v.shape) for k, v in raw.items()} == \
        {k: (v.dtype, v.shape) for k, v in torch_file.items()}
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(raw[key], value.detach().numpy())
    header_size, = struct.unpack("<Q", path.read_bytes()[:8])
    header = json.loads(path.read_bytes()[8:8 + header_size])
    assert header["__metadata__"]["format"] == "pt"  # what Hugging Face's loaders check


def test_round_trip_keeps_values_and_dtypes(tmp_path):
    state = {"w": fastgrad.randn(3, 4, dtype=fastgrad.float64), "steps": fastgrad.tensor(7),
             "mask": fastgrad.tensor([True, False]), "t": fastgrad.arange(6.0).reshape(2, 3).t(),
             "empty": fastgrad.zeros(0, 2)}
    path = tmp_path / "s.safetensors"
    fastgrad.save(state, path)
    loaded = fastgrad.load(path)
    assert sorted(loaded) == sorted(state)
    for key, value in state.items():
        assert loaded[key].dtype == value.dtype and loaded[key].shape == value.shape
        np.testing.assert_array_equal(loaded[key].numpy(), value.numpy())
    loaded["w"].add_(1)  # a loaded tensor owns writable memory


def test_npz_path_is_unchanged(tmp_path):
    path = tmp_path / "s.npz"
    fastgrad.save({"a": fastgrad.ones(2)}, path)
    assert path.read_bytes()[:2] == b"PK"  # a zip archive, as before
    np.testing.assert_array_equal(fastgrad.load(path)["a"].numpy(), [1.0, 1.0])


def _saved_model_file(tmp_path):
    fastgrad.manual_seed(1)
    path = tmp_path / "m.safetensors"
    fastgrad.save(MNISTClassificationModel().state_dict(), path)
    return path


def _load_into_fresh_model(path):
    fastgrad.manual_seed(2)
    model = MNISTClassificationModel()
    before = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(fastgrad.load(path))
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.detach().numpy(), before[key])
    return str(info.value)


def test_truncated_file_raises_and_leaves_the_model_untouched(tmp_path):
    path = _saved_model_file(tmp_path)
    path.write_bytes(path.read_bytes()[:-100])
    message = _load_into_fresh_model(path)
    assert str(path) in message and "not a valid safetensors file" in message


def test_damaged_header_raises(tmp_path):
    path = _saved_model_file(tmp_path)
    data = bytearray(path.read_bytes())
    data[0:8] = struct.pack("<Q", 10**9)  # a header longer than the file
    path.write_bytes(bytes(data))
    assert "not a valid safetensors file" in _load_into_fresh_model(path)


def test_changed_weight_bytes_are_detected(tmp_path):
    path = _saved_model_file(tmp_path)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x40  # one bit of the last tensor's data: the header stays valid
    path.write_bytes(bytes(data))
    safetensors_numpy.load_file(str(path))  # safetensors itself does not notice
    assert "changed after fastgrad saved it" in _load_into_fresh_model(path)


def test_bad_values_refused_before_writing(tmp_path):
    path = tmp_path / "bad.safetensors"
    with pytest.raises(TypeError, match="'x'"):
        fastgrad.save({"x": "text"}, path)
    with pytest.raises(TypeError, match="keys must be strings"):
        fastgrad.save({1: fastgrad.ones(1)}, path)
    assert not path.exists() and os.listdir(tmp_path) == []
