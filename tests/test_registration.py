"""Each op module attaches its own Tensor methods; the autograd core imports no op."""
import ast
import pathlib
import subprocess
import sys
import textwrap

import numpy as np

import fastgrad
from fastgrad import Tensor
from fastgrad.ops._methods import tensor_method

AUTOGRAD = pathlib.Path(fastgrad.__file__).parent / "autograd"


def _imported_modules(path):
    """Every name an import statement in ``path`` brings in (``from a import b`` gives
    ``a.b``), including imports inside functions."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_autograd_module_imports_an_op_even_lazily():
    files = sorted(AUTOGRAD.glob("*.py"))
    assert len(files) >= 5
    for path in files:
        for name in _imported_modules(path):
            assert not name.startswith(("fastgrad.ops", "fastgrad.nn")), (path.name, name)


def test_the_autograd_core_imports_and_runs_without_the_ops():
    # Import fastgrad.autograd without running fastgrad/__init__.py (which imports the ops),
    # then check that no op module came along and that the core works on its own.
    script = textwrap.dedent("""
        import importlib.util, sys, types
        spec = importlib.util.find_spec("fastgrad")
        package = types.ModuleType("fastgrad")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["fastgrad"] = package
        import numpy as np
        from fastgrad.autograd import GradFn, Tensor
        loaded = sorted(m for m in sys.modules if m.startswith("fastgrad.ops"))
        assert not loaded, loaded

        class Double(GradFn):
            def backward(self, grad_output):
                return (grad_output * 2,)

        x = Tensor([1.0, 2.0], requires_grad=True)
        y = Tensor._wrap(x.arr * 2, Double(x))
        y.backward(np.ones(2, dtype=np.float32))
        assert x.grad.arr.tolist() == [2.0, 2.0], x.grad.arr
        assert not hasattr(Tensor, "exp")  # no op was attached: none was imported
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_tensor_method_attaches_methods_operators_and_the_reflected_operator():
    calls = []

    def combine(a, b):
        calls.append((a, b))
        return "combined"

    try:  # throwaway names, removed after
        tensor_method("_probe_combine", "__probe__", reflected="__rprobe__")(combine)
        x = fastgrad.tensor([1.0])
        assert x._probe_combine(2) == "combined" and calls[-1] == (x, 2)
        assert Tensor.__rprobe__(x, 3) == "combined" and calls[-1] == (3, x)
        assert Tensor.__probe__ is combine
    finally:
        for name in ("_probe_combine", "__probe__", "__rprobe__"):
            delattr(Tensor, name)


def test_every_op_module_attached_its_methods_and_in_place_variants():
    x = fastgrad.tensor([[1.0, -2.0], [3.0, 4.0]])
    assert Tensor.exp is fastgrad.exp and Tensor.__add__ is fastgrad.add
    assert Tensor.view is fastgrad.view and Tensor.reshape is fastgrad.reshape
    assert Tensor.clip is fastgrad.clamp
    np.testing.assert_array_equal((x.T).arr, x.arr.T)
    np.testing.assert_array_equal((x.mT).arr, x.arr.T)
    np.testing.assert_array_equal((5 - x).arr, 5 - x.arr)
    y = x.clone()
    y.relu_()
    np.testing.assert_array_equal(y.arr, np.maximum(x.arr, 0))
    y.fill_(7.0)
    assert (y.arr == 7.0).all()
    assert (x == None) is False  # noqa: E711 (the comparison operator's NotImplemented)


def test_the_worked_example_in_architecture_md_is_a_working_op():
    text = (pathlib.Path(fastgrad.__file__).parent.parent / "ARCHITECTURE.md").read_text()
    section = text.split("## Writing an op", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    # In a subprocess: the example attaches Tensor.softplus, which must not leak into other tests.
    script = example + textwrap.dedent("""
        import fastgrad
        from fastgrad.autograd import gradcheck

        fastgrad.manual_seed(0)
        for shape in [(3, 4), (1,), ()]:
            x = fastgrad.randn(*shape, dtype=fastgrad.float64, requires_grad=True)
            assert gradcheck(softplus, (x,)), shape
        empty = fastgrad.zeros(0, 2, requires_grad=True)  # (gradcheck refuses empty inputs)
        softplus(empty).sum().backward()
        assert empty.grad.shape == (0, 2)
        x = fastgrad.tensor([-800.0, 0.0, 800.0], requires_grad=True)
        y = x.softplus()
        np.testing.assert_allclose(y.arr, [0.0, np.log(2.0), 800.0], rtol=1e-6)  # no overflow
        y.backward(fastgrad.ones(3))
        assert x.grad.tolist() == [0.0, 0.5, 1.0], x.grad
        x = fastgrad.tensor([1.0, 2.0])
        w = fastgrad.tensor([1.0, 1.0], requires_grad=True)
        h = x * 1 + w
        y = softplus(h)
        h.add_(1.0)
        try:
            y.sum().backward()
        except RuntimeError as exc:
            assert "modified by an inplace operation" in str(exc)
        else:
            raise AssertionError("an in-place change of a saved input was not detected")
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
