import pytest

from cases import torch_available


def pytest_collection_modifyitems(config, items):
    # PyTorch is an optional comparator: its cases are skipped where it is not installed.
    if torch_available():
        return
    skip = pytest.mark.skip(reason="PyTorch is not installed (pip install torch==2.13.0)")
    for item in items:
        if "torch" in item.name:
            item.add_marker(skip)
