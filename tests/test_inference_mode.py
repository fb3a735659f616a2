"""inference_mode: no_grad with PyTorch's interface (mode, decorator with or without ())."""
import fastgrad


def test_context_manager_records_no_graph_and_restores():
    x = fastgrad.ones(2, requires_grad=True)
    assert not fastgrad.is_inference_mode_enabled()
    with fastgrad.inference_mode():
        assert fastgrad.is_inference_mode_enabled() and not fastgrad.is_grad_enabled()
        y = x * 2
        with fastgrad.inference_mode(False):
            assert not fastgrad.is_inference_mode_enabled()
            assert not fastgrad.is_grad_enabled()  # mode=False leaves grad mode alone
    assert y.grad_fn is None and not y.requires_grad
    assert fastgrad.is_grad_enabled() and not fastgrad.is_inference_mode_enabled()
    assert (x * 2).requires_grad


def test_decorator_forms():
    x = fastgrad.ones(2, requires_grad=True)

    @fastgrad.inference_mode
    def bare(t):
        return t * 3

    @fastgrad.inference_mode()
    def called(t):
        return t * 3

    @fastgrad.inference_mode(False)
    def off(t):
        return t * 3

    assert bare.__name__ == "bare"
    assert not bare(x).requires_grad and not called(x).requires_grad and off(x).requires_grad
    assert fastgrad.is_grad_enabled()


def test_restores_after_an_exception():
    try:
        with fastgrad.inference_mode():
            raise ValueError
    except ValueError:
        pass
    assert fastgrad.is_grad_enabled() and not fastgrad.is_inference_mode_enabled()
