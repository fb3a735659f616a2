"""fastgrad.metrics against scikit-learn, plus input validation and the lazy sklearn import."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as sk

import fastgrad
from fastgrad import metrics as fm

SCORES = [
    (fm.precision_score, sk.precision_score),
    (fm.recall_score, sk.recall_score),
    (fm.f1_score, sk.f1_score),
]
AVERAGES = [None, "macro", "micro", "weighted"]
ZERO_DIVISIONS = ["warn", 0, 1, np.nan]


class FakeTensor:
    """Stands in for a fastgrad Tensor: only ``.numpy()`` is used by metrics."""

    def __init__(self, arr):
        self._arr = np.asarray(arr)

    def numpy(self):
        return self._arr


@st.composite
def label_pairs(draw, max_label=6, max_len=40):
    n = draw(st.integers(1, max_len))
    labels = st.lists(st.integers(0, max_label), min_size=n, max_size=n)
    return np.array(draw(labels)), np.array(draw(labels))


def _run_quietly(fn, *args, **kwargs):
    """Call fn, returning (result, whether any warning was emitted)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(*args, **kwargs)
    return result, len(caught) > 0


def assert_same(ours, theirs):
    if np.ndim(theirs) == 0:
        assert isinstance(ours, float)
    else:
        assert isinstance(ours, np.ndarray) and ours.dtype == np.float64
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0, equal_nan=True)


@settings(max_examples=150, deadline=None)
@given(
    pair=label_pairs(),
    average=st.sampled_from(AVERAGES),
    zero_division=st.sampled_from(ZERO_DIVISIONS),
)
def test_scores_match_sklearn_on_present_labels(pair, average, zero_division):
    y_true, y_pred = pair
    for ours, theirs in SCORES:
        got, got_warned = _run_quietly(ours, y_true, y_pred, average=average, zero_division=zero_division)
        want, sk_warned = _run_quietly(
            theirs, y_true, y_pred, average=average, zero_division=zero_division
        )
        assert_same(got, want)
        assert got_warned == sk_warned, (ours.__name__, got_warned, sk_warned)


@settings(max_examples=100, deadline=None)
@given(
    pair=label_pairs(max_label=4),
    extra=st.integers(0, 3),
    average=st.sampled_from(AVERAGES),
    zero_division=st.sampled_from(ZERO_DIVISIONS),
)
def test_num_classes_matches_sklearn_labels_range(pair, extra, average, zero_division):
    y_true, y_pred = pair
    k = int(max(y_true.max(), y_pred.max())) + 1 + extra
    for ours, theirs in SCORES:
        got, got_warned = _run_quietly(
            ours, y_true, y_pred, average=average, zero_division=zero_division, num_classes=k
        )
        want, sk_warned = _run_quietly(
            theirs, y_true, y_pred, average=average, zero_division=zero_division, labels=list(range(k))
        )
        assert_same(got, want)
        assert got_warned == sk_warned


@settings(max_examples=100, deadline=None)
@given(
    pair=label_pairs(max_label=5),
    labels=st.lists(st.integers(0, 7), min_size=1, max_size=6, unique=True),
    average=st.sampled_from(AVERAGES),
    zero_division=st.sampled_from(ZERO_DIVISIONS),
)
def test_explicit_labels_match_sklearn(pair, labels, average, zero_division):
    y_true, y_pred = pair
    for ours, theirs in SCORES:
        got, _ = _run_quietly(ours, y_true, y_pred, average=average, zero_division=zero_division, labels=labels)
        want, _ = _run_quietly(theirs, y_true, y_pred, average=average, zero_division=zero_division, labels=labels)
        assert_same(got, want)


# sklearn warns when only one label occurs, even with labels= given.
@pytest.mark.filterwarnings("ignore:A single label was found:UserWarning")
@settings(max_examples=100, deadline=None)
@given(pair=label_pairs(max_label=9, max_len=60))
def test_accuracy_and_confusion_matrix_match_sklearn(pair):
    y_true, y_pred = pair
    assert fm.accuracy(y_true, y_pred) == sk.accuracy_score(y_true, y_pred)
    k = int(max(y_true.max(), y_pred.max())) + 1
    cm = fm.confusion_matrix(y_true, y_pred)
    assert cm.dtype == np.int64 and cm.shape == (k, k)
    np.testing.assert_array_equal(cm, sk.confusion_matrix(y_true, y_pred, labels=range(k)))
    cm12 = fm.confusion_matrix(y_true, y_pred, num_classes=12)
    np.testing.assert_array_equal(cm12, sk.confusion_matrix(y_true, y_pred, labels=range(12)))


def test_confusion_matrix_rows_are_true_columns_predicted():
    cm = fm.confusion_matrix([0, 0, 2], [1, 1, 0], num_classes=3)
    assert cm[0, 1] == 2 and cm[2, 0] == 1 and cm.sum() == 3


# --- edge cases, each compared with sklearn -------------------------------

EDGE_CASES = {
    "single class everywhere": ([3, 3, 3], [3, 3, 3]),
    "class never predicted": ([0, 1, 2, 2], [0, 1, 1, 1]),
    "class never true": ([0, 0, 1, 1], [0, 2, 1, 2]),
    "all wrong": ([0, 0, 0], [1, 1, 1]),
    "one sample": ([4], [2]),
    "gap in labels": ([0, 5, 5, 9], [0, 5, 9, 9]),
}


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
@pytest.mark.parametrize("average", AVERAGES)
@pytest.mark.parametrize("zero_division", ZERO_DIVISIONS)
def test_edge_cases_match_sklearn(case, average, zero_division):
    y_true, y_pred = EDGE_CASES[case]
    for ours, theirs in SCORES:
        got, got_warned = _run_quietly(ours, y_true, y_pred, average=average, zero_division=zero_division)
        want, sk_warned = _run_quietly(theirs, y_true, y_pred, average=average, zero_division=zero_division)
        assert_same(got, want)
        assert got_warned == sk_warned


def test_absent_classes_via_num_classes_use_zero_division():
    # Class 2 is neither true nor predicted: every score for it is 0/0.
    for zd in (0, 1):
        for ours, _ in SCORES:
            per_class = ours([0, 1], [0, 1], average=None, zero_division=zd, num_classes=3)
            np.testing.assert_array_equal(per_class, [1.0, 1.0, float(zd)])
    nan_scores = fm.f1_score([0, 1], [0, 1], average=None, zero_division=np.nan, num_classes=3)
    assert np.isnan(nan_scores[2])
    # NaN classes are left out of the macro mean.
    assert fm.f1_score([0, 1], [0, 1], zero_division=np.nan, num_classes=3) == 1.0


def test_warn_emits_undefined_metric_warning():
    with pytest.warns(fm.UndefinedMetricWarning, match="Precision"):
        value = fm.precision_score([0, 1], [0, 0])
    assert value == 0.5 * (0.5 + 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fm.precision_score([0, 1], [0, 0], zero_division=0)


# --- input types ----------------------------------------------------------


def test_accepts_lists_tensors_bools_and_integral_floats():
    y_true = [0, 1, 1, 2, 2, 2]
    y_pred = [0, 1, 2, 2, 2, 1]
    want = fm.f1_score(np.array(y_true), np.array(y_pred))
    assert fm.f1_score(y_true, y_pred) == want
    assert fm.f1_score(FakeTensor(y_true), FakeTensor(y_pred)) == want
    assert fm.f1_score(fastgrad.tensor(y_true), fastgrad.tensor(y_pred)) == want
    assert fm.f1_score(np.array(y_true, dtype=np.float32), y_pred) == want
    assert fm.accuracy(FakeTensor([True, False]), [1, 1]) == 0.5
    assert fm.accuracy(np.array(y_true, dtype=np.uint8), y_pred) == sk.accuracy_score(y_true, y_pred)


def test_huge_label_value_does_not_blow_up_memory():
    big = 10**15
    assert fm.f1_score([0, big], [0, big]) == 1.0


# --- validation -----------------------------------------------------------


@pytest.mark.parametrize("fn", [fm.accuracy, fm.confusion_matrix, fm.f1_score, fm.precision_score, fm.recall_score])
def test_bad_inputs_raise_clear_errors(fn):
    with pytest.raises(ValueError, match=r"same length.*\(3,\).*\(2,\)"):
        fn([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match=r"1-D.*\(2, 2\)"):
        fn(np.zeros((2, 2), dtype=int), np.zeros((2, 2), dtype=int))
    with pytest.raises(ValueError, match=r"non-negative.*-1"):
        fn([0, -1], [0, 1])
    with pytest.raises(ValueError, match=r"integer class labels.*0\.5"):
        fn([0, 1], [0.5, 1.0])
    with pytest.raises(ValueError, match="empty"):
        fn([], [])
    with pytest.raises(TypeError, match="dtype"):
        fn(["a", "b"], ["a", "b"])


def test_empty_input_is_refused_by_sklearn_too():
    with pytest.raises(ValueError):
        sk.f1_score([], [], average="macro")


@pytest.mark.parametrize("fn", [fm.f1_score, fm.precision_score, fm.recall_score])
def test_bad_options_raise(fn):
    with pytest.raises(ValueError, match="average.*'binary'"):
        fn([0, 1], [0, 1], average="binary")
    with pytest.raises(ValueError, match="zero_division.*2"):
        fn([0, 1], [0, 1], zero_division=2)
    with pytest.raises(ValueError, match="out of range for num_classes=2"):
        fn([0, 2], [0, 1], num_classes=2)
    with pytest.raises(ValueError, match="not both"):
        fn([0, 1], [0, 1], num_classes=2, labels=[0, 1])
    with pytest.raises(ValueError, match="repeat"):
        fn([0, 1], [0, 1], labels=[1, 1])


def test_confusion_matrix_num_classes_validation():
    with pytest.raises(ValueError, match="label 3 is out of range for num_classes=3"):
        fm.confusion_matrix([0, 3], [0, 1], num_classes=3)
    with pytest.raises(ValueError, match=">= 1"):
        fm.confusion_matrix([0], [0], num_classes=0)
    with pytest.raises(TypeError, match="num_classes"):
        fm.confusion_matrix([0], [0], num_classes=2.5)


# --- scikit-learn is an optional dependency -------------------------------


def test_undefined_metric_warning_is_sklearns():
    from sklearn.exceptions import UndefinedMetricWarning

    assert fm.UndefinedMetricWarning is UndefinedMetricWarning
    with pytest.raises(AttributeError, match="no_such_name"):
        fm.no_such_name  # noqa: B018


# A fresh interpreter in which scikit-learn, tqdm and matplotlib cannot be imported.
_WITHOUT_EXTRAS = """
import sys
for name in ("sklearn", "tqdm", "matplotlib"):
    sys.modules[name] = None  # makes `import name` raise ImportError
import fastgrad  # fails here if fastgrad imports any of them
try:
    fastgrad.metrics.accuracy([0, 1], [0, 1])
except ImportError as error:
    print(error)
"""


def test_import_fastgrad_needs_no_extras_and_metrics_say_how_to_install():
    run = subprocess.run([sys.executable, "-c", _WITHOUT_EXTRAS], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert "pip install fastgrad[metrics]" in run.stdout
