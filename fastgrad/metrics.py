"""Classification metrics on integer class labels, matching scikit-learn.

All functions take 1-D label vectors ``y_true`` and ``y_pred`` of equal,
non-zero length: ndarrays, lists or fastgrad Tensors (anything with a
``.numpy()`` method).  Labels must be non-negative integers (integral floats
and bools are accepted and converted).  Counting is done with
``np.bincount``; there is no Python loop over samples.

Class set for precision / recall / F1 (as scikit-learn with ``labels=None``):
the sorted union of the labels present in ``y_true`` and ``y_pred``, unless
``num_classes=K`` (classes ``0..K-1``) or ``labels`` (an explicit list, in
that order) is given.  Results agree with ``sklearn.metrics`` including the
``zero_division`` handling and the NaN-skipping averages.  Deliberate
differences: a label outside ``0..num_classes-1`` raises ValueError instead
of being silently ignored, and ``"warn"`` emits this module's
``UndefinedMetricWarning`` (a RuntimeWarning) rather than sklearn's class.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

__all__ = [
    "UndefinedMetricWarning",
    "accuracy",
    "confusion_matrix",
    "precision_score",
    "recall_score",
    "f1_score",
]

_AVERAGES = (None, "micro", "macro", "weighted")


class UndefinedMetricWarning(RuntimeWarning):
    """A precision, recall or F1 value had a zero denominator and was set to 0."""


def _as_labels(y, name: str) -> np.ndarray:
    """Return ``y`` as a 1-D int64 ndarray of non-negative labels, or raise."""
    if hasattr(y, "numpy") and not isinstance(y, np.ndarray):
        y = y.numpy()
    a = np.asarray(y)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D vector of class labels, got shape {a.shape}")
    if a.dtype == np.bool_:
        return a.astype(np.int64)
    if np.issubdtype(a.dtype, np.floating):
        if a.size and not (np.all(np.isfinite(a)) and np.all(a == np.round(a))):
            bad = a[~(np.isfinite(a) & (a == np.round(a)))][:5]
            raise ValueError(f"{name} must hold integer class labels, found {bad.tolist()}")
    elif not np.issubdtype(a.dtype, np.integer):
        # np.asarray([]) is float64, so only non-numeric input lands here.
        raise TypeError(f"{name} must hold integer class labels, got dtype {a.dtype}")
    a = a.astype(np.int64, copy=False)
    if a.size and a.min() < 0:
        raise ValueError(
            f"{name} must hold non-negative class labels, found {a[a < 0][:5].tolist()}"
        )
    return a


def _check_pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    t = _as_labels(y_true, "y_true")
    p = _as_labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(
            f"y_true and y_pred must have the same length, got shapes {t.shape} and {p.shape}"
        )
    if t.size == 0:
        # scikit-learn refuses empty input as well.
        raise ValueError("y_true and y_pred are empty; need at least 1 sample")
    return t, p


def accuracy(y_true, y_pred) -> float:
    """Fraction of positions where ``y_pred`` equals ``y_true``.

    ``y_true``, ``y_pred``: 1-D integer labels of shape (N,), N >= 1.
    Returns a Python float in [0, 1].
    """
    t, p = _check_pair(y_true, y_pred)
    return float(np.count_nonzero(t == p) / t.size)


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """Count matrix ``C[i, j]`` = number of samples of true class i predicted as j.

    ``y_true``, ``y_pred``: 1-D integer labels of shape (N,).
    ``num_classes``: K; defaults to ``max(label) + 1`` so that row/column i is
    always class i (this equals ``sklearn.metrics.confusion_matrix`` with
    ``labels=range(K)``).  Labels >= K raise ValueError.

    Returns an int64 ndarray of shape (K, K).
    """
    t, p = _check_pair(y_true, y_pred)
    top = int(max(t.max(), p.max()))
    if num_classes is None:
        k = top + 1
    else:
        k = _check_num_classes(num_classes)
        if top >= k:
            raise ValueError(f"label {top} is out of range for num_classes={k}")
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k).astype(np.int64, copy=False)


def _check_num_classes(num_classes) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise TypeError(f"num_classes must be an int, got {num_classes!r}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    return int(num_classes)


def _class_counts(t, p, num_classes, labels):
    """Per-class (tp, predicted, true) counts, each an int64 array of shape (C,).

    Labels are first compressed to indices into their sorted union, so a
    single huge label value does not make ``bincount`` allocate a huge array.
    """
    present = np.union1d(t, p)
    ti = np.searchsorted(present, t)
    pi = np.searchsorted(present, p)
    c = present.size
    counts = np.stack(
        [
            np.bincount(ti[t == p], minlength=c),
            np.bincount(pi, minlength=c),
            np.bincount(ti, minlength=c),
        ]
    )
    if num_classes is not None and labels is not None:
        raise ValueError("give either num_classes or labels, not both")
    if labels is None and num_classes is None:
        return counts
    if num_classes is not None:
        k = _check_num_classes(num_classes)
        if present[-1] >= k:
            raise ValueError(f"label {present[-1]} is out of range for num_classes={k}")
        wanted = np.arange(k)
    else:
        wanted = _as_labels(labels, "labels")
        if wanted.size == 0:
            raise ValueError("labels must name at least one class")
        if np.unique(wanted).size != wanted.size:
            raise ValueError(f"labels must not repeat a class, got {wanted.tolist()}")
    # Classes absent from both vectors get zero counts.
    pos = np.minimum(np.searchsorted(present, wanted), c - 1)
    found = present[pos] == wanted
    return np.where(found, counts[:, pos], 0)


def _zero_division_value(zero_division) -> float:
    if isinstance(zero_division, str):
        if zero_division == "warn":
            return 0.0
    elif isinstance(zero_division, (int, float, np.number)) and not isinstance(
        zero_division, bool
    ):
        if zero_division in (0, 1) or math.isnan(zero_division):
            return float(zero_division)
    raise ValueError(f'zero_division must be "warn", 0, 1 or nan, got {zero_division!r}')


def _divide(num, den, fill: float) -> tuple[np.ndarray, bool]:
    """num / den as float64 with ``fill`` where den == 0; also says whether that happened."""
    zero = den == 0
    out = np.divide(num, np.where(zero, 1, den), dtype=np.float64)
    out[zero] = fill
    return out, bool(zero.any())


def _nan_average(values: np.ndarray, weights: np.ndarray | None) -> float:
    """Average skipping NaN entries; NaN if all are NaN; unweighted if all weights are 0."""
    keep = ~np.isnan(values)
    if not keep.any():
        return float("nan")
    values = values[keep]
    if weights is not None:
        weights = weights[keep]
        if weights.sum() > 0:
            return float(np.average(values, weights=weights))
    return float(values.mean())


def _score(metric, y_true, y_pred, average, zero_division, num_classes, labels):
    if average not in _AVERAGES:
        raise ValueError(f"average must be one of {_AVERAGES}, got {average!r}")
    fill = _zero_division_value(zero_division)
    t, p = _check_pair(y_true, y_pred)
    tp, predicted, true = _class_counts(t, p, num_classes, labels)
    support = true
    if average == "micro":
        tp, predicted, true = tp.sum(keepdims=True), predicted.sum(keepdims=True), true.sum(keepdims=True)

    if metric == "precision":
        values, undefined = _divide(tp, predicted, fill)
        reason = "no predicted samples"
    elif metric == "recall":
        values, undefined = _divide(tp, true, fill)
        reason = "no true samples"
    else:
        # 2PR/(P+R) written with counts; defined whenever the class occurs at
        # all, even when P or R alone is 0/0 (this is what sklearn does).
        values, undefined = _divide(2 * tp, true + predicted, fill)
        reason = "no true nor predicted samples"
    if undefined and isinstance(zero_division, str):
        name = {"precision": "Precision", "recall": "Recall", "f1": "F-score"}[metric]
        warnings.warn(
            f"{name} is ill-defined and set to 0.0 for labels with {reason}; "
            "pass zero_division to choose the value and silence this warning",
            UndefinedMetricWarning,
            stacklevel=3,
        )

    if average is None:
        return values
    if average == "weighted":
        return _nan_average(values, support)
    return _nan_average(values, None)


_SCORE_DOC = """{title}

    Parameters
    ----------
    y_true, y_pred : 1-D integer labels of shape (N,), N >= 1
        ndarray, list or Tensor.
    average : "macro" (default), "micro", "weighted" or None
        "macro": unweighted mean over classes; "weighted": mean weighted by
        each class's true count; "micro": from the summed counts; None: the
        per-class values.  NaN values (from ``zero_division=nan``) are left
        out of the means.
    zero_division : "warn" (default), 0, 1 or nan
        Value used when {denominator} is 0; "warn" means 0 plus an
        ``UndefinedMetricWarning``.
    num_classes : int, optional
        Use classes 0..K-1 (classes absent from both vectors count too).
    labels : sequence of int, optional
        Use exactly these classes, in this order.

    Returns
    -------
    float, or a float64 ndarray of shape (C,) when ``average`` is None.
    """


def precision_score(
    y_true, y_pred, average="macro", zero_division="warn", num_classes=None, labels=None
):
    return _score("precision", y_true, y_pred, average, zero_division, num_classes, labels)


def recall_score(
    y_true, y_pred, average="macro", zero_division="warn", num_classes=None, labels=None
):
    return _score("recall", y_true, y_pred, average, zero_division, num_classes, labels)


def f1_score(
    y_true, y_pred, average="macro", zero_division="warn", num_classes=None, labels=None
):
    return _score("f1", y_true, y_pred, average, zero_division, num_classes, labels)


precision_score.__doc__ = _SCORE_DOC.format(
    title="Precision tp / (tp + fp) per class, optionally averaged.",
    denominator="a class has no predicted samples (tp + fp)",
)
recall_score.__doc__ = _SCORE_DOC.format(
    title="Recall tp / (tp + fn) per class, optionally averaged.",
    denominator="a class has no true samples (tp + fn)",
)
f1_score.__doc__ = _SCORE_DOC.format(
    title="F1 = 2 tp / (2 tp + fp + fn) per class, optionally averaged.",
    denominator="a class has neither true nor predicted samples",
)
