"""fastgrad.optim.lr_scheduler: lr sequences against closed forms, resuming, state_dict."""
import math

import numpy as np
import pytest

import fastgrad
from fastgrad import optim
from fastgrad.optim import lr_scheduler

BASE_LRS = (0.1, 0.03)


def make_optimizer(lrs=BASE_LRS):
    groups = [{"params": [fastgrad.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    return optim.SGD(groups, lr=1.0)


def lr_sequence(scheduler, epochs):
    """lrs of every group at epochs 0 .. epochs-1 (epoch 0: right after construction)."""
    seq = []
    for epoch in range(epochs):
        if epoch:
            scheduler.step()
        assert scheduler.last_epoch == epoch
        current = [g["lr"] for g in scheduler.optimizer.param_groups]
        assert scheduler.get_last_lr() == current
        seq.append(current)
    return np.array(seq)


def closed_form(formula, epochs, base_lrs=BASE_LRS):
    return np.array([[formula(base, e) for base in base_lrs] for e in range(epochs)])


def test_step_lr():
    sched = lr_scheduler.StepLR(make_optimizer(), step_size=3, gamma=0.5)
    expected = closed_form(lambda base, e: base * 0.5 ** (e // 3), 20)
    np.testing.assert_allclose(lr_sequence(sched, 20), expected, rtol=1e-12, atol=0)
    # Literal values for the first group: 0.1 for epochs 0-2, 0.05 for 3-5, 0.025 for 6-8.
    np.testing.assert_allclose(expected[[0, 2, 3, 5, 6], 0], [0.1, 0.1, 0.05, 0.05, 0.025])


def test_multi_step_lr_counts_repeated_milestones_and_ignores_order():
    sched = lr_scheduler.MultiStepLR(make_optimizer(), milestones=[7, 3, 12, 7], gamma=0.1)

    def formula(base, e):
        passed = sum(1 for m in (3, 7, 7, 12) if m <= e)
        return base * 0.1 ** passed

    expected = closed_form(formula, 16)
    np.testing.assert_allclose(lr_sequence(sched, 16), expected, rtol=1e-12, atol=0)
    # Epoch 7 passes the repeated milestone twice: 0.1 -> 0.01 -> 0.0001.
    np.testing.assert_allclose(expected[[2, 3, 6, 7, 12], 0], [0.1, 0.01, 0.01, 1e-4, 1e-5])


def test_exponential_lr():
    sched = lr_scheduler.ExponentialLR(make_optimizer(), gamma=0.9)
    expected = closed_form(lambda base, e: base * 0.9 ** e, 30)
    np.testing.assert_allclose(lr_sequence(sched, 30), expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("T_max, eta_min", [(1, 0.0), (5, 0.0), (10, 0.001), (7, 0.02)])
def test_cosine_annealing_lr_matches_the_closed_form_past_T_max(T_max, eta_min):
    sched = lr_scheduler.CosineAnnealingLR(make_optimizer(), T_max=T_max, eta_min=eta_min)
    epochs = 3 * T_max + 2  # down, back up and down again: the 0/0 epochs are crossed twice

    def formula(base, e):
        return eta_min + (base - eta_min) * (1 + math.cos(math.pi * e / T_max)) / 2

    seq = lr_sequence(sched, epochs)
    np.testing.assert_allclose(seq, closed_form(formula, epochs), rtol=0, atol=1e-12)
    np.testing.assert_allclose(seq[T_max], [eta_min, eta_min], atol=1e-12)
    np.testing.assert_allclose(seq[2 * T_max], BASE_LRS, atol=1e-12)  # no restart: back up


def test_constructor_records_initial_lr_and_keeps_the_lr():
    opt = make_optimizer()
    sched = lr_scheduler.StepLR(opt, step_size=2)
    assert sched.last_epoch == 0
    assert [g["initial_lr"] for g in opt.param_groups] == list(BASE_LRS)
    assert [g["lr"] for g in opt.param_groups] == list(BASE_LRS)
    assert sched.base_lrs == list(BASE_LRS)
    assert sched.get_last_lr() == list(BASE_LRS)


def test_schedulers_chain_multiplicatively():
    # The recursive form uses each group's current lr, so two schedulers compose.
    opt = make_optimizer()
    exp = lr_scheduler.ExponentialLR(opt, gamma=0.9)
    step = lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)
    for e in range(1, 13):
        exp.step()
        step.step()
        for base, group in zip(BASE_LRS, opt.param_groups):
            assert group["lr"] == pytest.approx(base * 0.9 ** e * 0.5 ** (e // 4), rel=1e-12)


def test_a_manual_lr_change_is_carried_forward():
    opt = make_optimizer()
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    sched.step()
    opt.param_groups[0]["lr"] = 1.0
    sched.step()
    sched.step()
    assert sched.get_last_lr() == pytest.approx([0.25, 0.03 / 8], rel=1e-12)


def test_optimizer_uses_the_scheduled_lr():
    p = fastgrad.tensor([0.0], dtype=np.float64, requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        p.grad = fastgrad.tensor([1.0], dtype=np.float64)
        opt.step()
        sched.step()
    np.testing.assert_allclose(p.arr, [-(1.0 + 0.5 + 0.25)], rtol=1e-14)


@pytest.mark.parametrize("make", [
    lambda opt: lr_scheduler.StepLR(opt, step_size=3, gamma=0.5),
    lambda opt: lr_scheduler.MultiStepLR(opt, milestones=[2, 5], gamma=0.3),
    lambda opt: lr_scheduler.ExponentialLR(opt, gamma=0.8),
    lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=4, eta_min=0.01),
], ids=["step", "multistep", "exponential", "cosine"])
def test_state_dict_round_trip(make):
    opt1 = make_optimizer()
    sched1 = make(opt1)
    for _ in range(5):
        sched1.step()
    saved_sched = sched1.state_dict()
    saved_opt = opt1.state_dict()
    assert "optimizer" not in saved_sched and saved_sched["last_epoch"] == 5

    opt2 = make_optimizer(lrs=(0.7, 0.7))
    sched2 = make(opt2)
    opt2.load_state_dict(saved_opt)  # the optimizer's state holds the current lrs
    sched2.load_state_dict(saved_sched)
    assert sched2.last_epoch == 5 and sched2.base_lrs == list(BASE_LRS)
    for _ in range(8):
        sched1.step()
        sched2.step()
        assert sched2.get_last_lr() == sched1.get_last_lr()
    saved_sched["last_epoch"] = 100  # the loaded scheduler holds its own copy
    assert sched2.last_epoch == 13


def test_resume_with_last_epoch_needs_initial_lr():
    with pytest.raises(KeyError, match=r"param 'initial_lr' is not specified in "
                                       r"param_groups\[0\] when resuming an optimizer"):
        lr_scheduler.StepLR(make_optimizer(), step_size=2, last_epoch=4)


def _resumable_optimizer():
    opt = make_optimizer()
    for g in opt.param_groups:
        g["initial_lr"] = g["lr"]
    return opt


@pytest.mark.parametrize("make", [
    lambda opt: lr_scheduler.ExponentialLR(opt, gamma=0.5, last_epoch=4),
    lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=8, eta_min=0.0, last_epoch=4),
])
def test_a_resumed_scheduler_keeps_the_lr_it_finds(make):
    # PyTorch 2.x: rebuilding a scheduler from a checkpoint (last_epoch >= 0) must not move
    # the lr one epoch further than the optimizer's saved lr.
    opt = _resumable_optimizer()
    for g, lr in zip(opt.param_groups, (0.03, 0.007)):
        g["lr"] = lr  # the lrs of the checkpoint, not the initial ones
    sched = make(opt)
    assert sched.last_epoch == 5
    assert sched.get_last_lr() == [0.03, 0.007]


def test_resumed_cosine_continues_from_the_lr_it_found():
    opt = _resumable_optimizer()
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=8, eta_min=0.0, last_epoch=4)
    sched.step()  # epoch 6, by the recursive rule from the lr it kept at epoch 5
    ratio = (1 + math.cos(math.pi * 6 / 8)) / (1 + math.cos(math.pi * 5 / 8))
    assert sched.get_last_lr() == pytest.approx([ratio * b for b in BASE_LRS], rel=1e-12)


def test_resumed_step_lr_applies_its_rule_on_the_first_step():
    # StepLR has no such exception in PyTorch: epoch 4 is a multiple of step_size 2.
    sched = lr_scheduler.StepLR(_resumable_optimizer(), step_size=2, gamma=0.5, last_epoch=3)
    assert sched.get_last_lr() == pytest.approx([b * 0.5 for b in BASE_LRS], rel=1e-12)


def test_step_with_an_epoch_warns_and_uses_the_closed_form():
    sched = lr_scheduler.StepLR(make_optimizer(), step_size=2, gamma=0.5)
    with pytest.warns(UserWarning, match="epoch parameter in `scheduler.step\\(\\)`"):
        sched.step(7)
    assert sched.last_epoch == 7
    assert sched.get_last_lr() == pytest.approx([b * 0.5 ** 3 for b in BASE_LRS], rel=1e-12)


def test_scheduler_needs_an_optimizer():
    with pytest.raises(TypeError, match="^list is not an Optimizer$"):
        lr_scheduler.StepLR([], step_size=1)


def test_base_class_get_lr_is_abstract():
    with pytest.raises(NotImplementedError):
        lr_scheduler.LRScheduler(make_optimizer())


def test_state_dict_is_a_snapshot():
    sched = lr_scheduler.MultiStepLR(make_optimizer(), milestones=[2, 4], gamma=0.5)
    saved = sched.state_dict()
    saved["milestones"][1] += 1  # editing the saved dict must not reschedule the live one
    saved["base_lrs"][0] = 5.0
    assert sched.milestones == {2: 1, 4: 1} and sched.base_lrs == list(BASE_LRS)


# ------------------------------------------------------------------------------- LambdaLR
def test_lambda_lr_one_function_or_one_per_group():
    sched = lr_scheduler.LambdaLR(make_optimizer(), lambda e: 0.9 ** e)
    expected = closed_form(lambda base, e: base * 0.9 ** e, 12)
    np.testing.assert_allclose(lr_sequence(sched, 12), expected, rtol=1e-12, atol=0)
    per_group = lr_scheduler.LambdaLR(make_optimizer(), [lambda e: 1.0 / (e + 1), lambda e: e + 1])
    seq = lr_sequence(per_group, 5)
    np.testing.assert_allclose(seq[:, 0], [0.1 / (e + 1) for e in range(5)], rtol=1e-12)
    np.testing.assert_allclose(seq[:, 1], [0.03 * (e + 1) for e in range(5)], rtol=1e-12)
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        lr_scheduler.LambdaLR(make_optimizer(), [lambda e: 1.0])


def test_lambda_lr_state_dict_keeps_callable_objects_state_not_functions():
    class Warmup:
        def __init__(self, steps):
            self.steps = steps

        def __call__(self, epoch):
            return min(1.0, (epoch + 1) / self.steps)

    sched = lr_scheduler.LambdaLR(make_optimizer(), [Warmup(4), lambda e: 1.0])
    for _ in range(2):
        sched.step()
    state = sched.state_dict()
    assert state["lr_lambdas"] == [{"steps": 4}, None] and state["last_epoch"] == 2
    fresh = lr_scheduler.LambdaLR(make_optimizer(), [Warmup(10), lambda e: 1.0])
    fresh.load_state_dict(state)
    assert fresh.lr_lambdas[0].steps == 4 and fresh.last_epoch == 2


# ---------------------------------------------------------------------- ReduceLROnPlateau
def test_reduce_lr_on_plateau_waits_patience_then_cools_down():
    opt = make_optimizer()
    sched = lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1, cooldown=1,
                                           min_lr=[0.0, 0.02])
    lrs = []
    for metric in [1.0, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.4, 0.5, 0.5]:
        sched.step(fastgrad.tensor(metric))  # a one-element tensor works, as a number
        lrs.append(sched.get_last_lr())
    first = [lr[0] for lr in lrs]
    # epochs 3-4 bad -> halve at the 2nd bad one; one cooldown epoch; two more bad -> halve
    assert first == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125])
    assert [lr[1] for lr in lrs][-1] == 0.02  # never below its min_lr
    assert sched.best == pytest.approx(0.4) and sched.last_epoch == 10  # (a float32 tensor)


@pytest.mark.parametrize("mode,threshold_mode,metrics,reduced", [
    ("min", "rel", [1.0, 0.99995], True),    # not 1e-4 better in relative terms: bad
    ("min", "abs", [1.0, 0.95], False),      # 0.05 better than 1.0 - 1e-4
    ("max", "rel", [1.0, 1.2], False),
    ("max", "abs", [1.0, 1.00005], True),
])
def test_reduce_lr_on_plateau_thresholds(mode, threshold_mode, metrics, reduced):
    sched = lr_scheduler.ReduceLROnPlateau(make_optimizer(), mode=mode, patience=0,
                                           threshold_mode=threshold_mode)
    for m in metrics:
        sched.step(m)
    assert (sched.get_last_lr()[0] < 0.1) == reduced


def test_reduce_lr_on_plateau_rejects_bad_arguments():
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        lr_scheduler.ReduceLROnPlateau(make_optimizer(), factor=1.0)
    with pytest.raises(ValueError, match="mode avg is unknown"):
        lr_scheduler.ReduceLROnPlateau(make_optimizer(), mode="avg")
    with pytest.raises(ValueError, match="expected 2 min_lrs, got 1"):
        lr_scheduler.ReduceLROnPlateau(make_optimizer(), min_lr=[0.1])


def test_reduce_lr_on_plateau_state_dict_round_trip():
    sched = lr_scheduler.ReduceLROnPlateau(make_optimizer(), patience=2)
    for metric in (1.0, 2.0):
        sched.step(metric)
    state = sched.state_dict()
    assert "optimizer" not in state and state["num_bad_epochs"] == 1 and state["best"] == 1.0
    fresh = lr_scheduler.ReduceLROnPlateau(make_optimizer())
    fresh.load_state_dict(state)
    assert (fresh.patience, fresh.num_bad_epochs, fresh.last_epoch) == (2, 1, 2)
    state["num_bad_epochs"] = 7  # the loaded scheduler holds its own copy
    assert fresh.num_bad_epochs == 1


# ---------------------------------------------- the schedulers of issue 12 (their sequences
# against PyTorch's: test_lr_scheduler_torch_reference.py)
@pytest.mark.parametrize("make", [
    lambda opt: lr_scheduler.LinearLR(opt, start_factor=0.2, total_iters=6),
    lambda opt: lr_scheduler.ConstantLR(opt, factor=0.4, total_iters=3),
    lambda opt: lr_scheduler.PolynomialLR(opt, total_iters=8, power=1.5),
])
def test_chainable_form_agrees_with_the_closed_form(make):
    chained = lr_sequence(make(make_optimizer()), 12)
    jumping = make(make_optimizer())
    closed = []
    with pytest.warns(UserWarning, match="epoch parameter"):
        for epoch in range(12):
            jumping.step(epoch)
            closed.append(jumping.get_last_lr())
    np.testing.assert_allclose(chained, closed, rtol=1e-12)


def test_one_cycle_refuses_steps_past_its_total():
    sched = lr_scheduler.OneCycleLR(make_optimizer(), max_lr=1.0, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="Tried to step 4 times. The specified number of total steps is 3"):
        sched.step()
    with pytest.raises(ValueError, match="You must define either total_steps OR"):
        lr_scheduler.OneCycleLR(make_optimizer(), max_lr=1.0, epochs=3)
    with pytest.raises(ValueError, match="Expected float between 0 and 1 pct_start"):
        lr_scheduler.OneCycleLR(make_optimizer(), max_lr=1.0, total_steps=3, pct_start=2)


def test_momentum_cycling_needs_an_optimizer_with_momentum():
    adagrad = optim.Adagrad([fastgrad.zeros(2, requires_grad=True)], lr=0.1)
    for make in (lambda: lr_scheduler.CyclicLR(adagrad, 0.01, 0.1),
                 lambda: lr_scheduler.OneCycleLR(adagrad, 0.1, total_steps=10)):
        with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
            make()
    lr_scheduler.CyclicLR(adagrad, 0.01, 0.1, cycle_momentum=False)  # no momentum needed
    with pytest.raises(ValueError, match="max_lr must have the same length as optimizer.param_groups"):
        lr_scheduler.CyclicLR(make_optimizer(), 0.01, [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="mode is invalid and scale_fn is None"):
        lr_scheduler.CyclicLR(make_optimizer(), 0.01, 0.1, mode="sawtooth")


def test_cyclic_lr_takes_a_custom_scale_fn_by_iterations():
    sched = lr_scheduler.CyclicLR(make_optimizer((0.1,)), 0.0, 1.0, step_size_up=2,
                                  scale_fn=lambda step: 1 / (1 + step), scale_mode="iterations",
                                  cycle_momentum=False)
    # heights 0, 0.5, 1, 0.5, 0 over a cycle of 4, each scaled by 1 / (1 + step)
    expected = [0.0, 0.5 / 2, 1.0 / 3, 0.5 / 4, 0.0, 0.5 / 6]
    np.testing.assert_allclose(lr_sequence(sched, 6)[:, 0], expected, atol=1e-15)


def test_warm_restarts_refuse_bad_periods():
    with pytest.raises(ValueError, match="Expected positive integer T_0, but got 0"):
        lr_scheduler.CosineAnnealingWarmRestarts(make_optimizer(), T_0=0)
    with pytest.raises(ValueError, match="Expected integer T_mult >= 1, but got 0"):
        lr_scheduler.CosineAnnealingWarmRestarts(make_optimizer(), T_0=2, T_mult=0)
    sched = lr_scheduler.CosineAnnealingWarmRestarts(make_optimizer(), T_0=2)
    with pytest.raises(ValueError, match="Expected non-negative epoch, but got -1"):
        sched.step(-1)


def test_sequential_and_chained_check_their_schedulers():
    opt, other = make_optimizer(), make_optimizer()
    with pytest.raises(ValueError, match="one more than the number of milestone points"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.ConstantLR(opt), lr_scheduler.StepLR(opt, 2)], [])
    with pytest.raises(ValueError, match="expects all schedulers to belong to the same optimizer"):
        lr_scheduler.ChainedScheduler([lr_scheduler.ConstantLR(opt), lr_scheduler.StepLR(other, 2)])
    with pytest.raises(ValueError, match="does not support `ReduceLROnPlateau`"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.ReduceLROnPlateau(opt)], [])
    with pytest.raises(ValueError, match="expects at least one scheduler"):
        lr_scheduler.ChainedScheduler([])


def test_sequential_lr_state_dict_resumes_the_sequence():
    def make(opt):
        return lr_scheduler.SequentialLR(
            opt, [lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=4),
                  lr_scheduler.ExponentialLR(opt, gamma=0.8)], milestones=[4])

    opt = make_optimizer()
    sched = make(opt)
    full = lr_sequence(sched, 10)
    opt2 = make_optimizer()
    resumed = make(opt2)
    for _ in range(5):
        resumed.step()
    saved_sched, saved_opt = resumed.state_dict(), opt2.state_dict()
    opt3 = make_optimizer()
    restored = make(opt3)
    opt3.load_state_dict(saved_opt)
    restored.load_state_dict(saved_sched)
    rest = []
    for _ in range(4):
        restored.step()
        rest.append(restored.get_last_lr())
    np.testing.assert_allclose(rest, full[6:10], rtol=1e-12)
