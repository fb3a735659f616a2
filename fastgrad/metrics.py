"""Classification metrics on class labels: a thin layer over ``sklearn.metrics``.

scikit-learn computes every number here, so results, the ``zero_division``
handling and the warnings (``sklearn.exceptions.UndefinedMetricWarning``,
re-exported as ``UndefinedMetricWarning``) are exactly its.  This layer adds
what a fastgrad training loop needs: Tensors go in (anything with a
``.numpy()`` method, besides ndarrays and lists), ``num_classes=K`` names the
classes ``0..K-1``, and bad labels are refused with the shapes and values at
fault before scikit-learn sees them.

Labels are 1-D vectors of equal, non-zero length holding non-negative
integers (integral floats and bools are converted); non-negative because
``confusion_matrix`` makes row and column ``i`` class ``i``.  Deliberate
difference from scikit-learn: a label outside ``0..num_classes-1`` raises
ValueError instead of being silently left out.

scikit-learn is imported on first use, so ``import fastgrad`` does not need
it; it comes with ``pip install fastgrad[metrics]``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "UndefinedMetricWarning",
    "accuracy",
    "confusion_matrix",
    "precision_score",
    "recall_score",
    "f1_score",
]

# "binary" and "samples" are left out: they are for binary and multilabel targets.
_AVERAGES = (None, "micro", "macro", "weighted")


def _sklearn_metrics():
    """``sklearn.metrics``, or an ImportError that says how to install it."""
    try:
        from sklearn import metrics
    except ImportError as error:
        raise ImportError(
            "fastgrad.metrics computes with scikit-learn, which is not installed; "
            "install it with: pip install fastgrad[metrics]"
        ) from error
    return metrics


def __getattr__(name):
    # The warning class is scikit-learn's own, looked up lazily like the rest.
    if name == "UndefinedMetricWarning":
        _sklearn_metrics()
        from sklearn.exceptions import UndefinedMetricWarning

        return UndefinedMetricWarning
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
        integral = np.isfinite(a) & (a == np.round(a))
        if not integral.all():
            raise ValueError(f"{name} must hold integer class labels, found {a[~integral][:5].tolist()}")
    elif not np.issubdtype(a.dtype, np.integer):
        # np.asarray([]) is float64, so only non-numeric input lands here.
        raise TypeError(f"{name} must hold integer class labels, got dtype {a.dtype}")
    a = a.astype(np.int64, copy=False)
    if a.size and a.min() < 0:
        raise ValueError(f"{name} must hold non-negative class labels, found {a[a < 0][:5].tolist()}")
    return a


def _check_pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    t = _as_labels(y_true, "y_true")
    p = _as_labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(
            f"y_true and y_pred must have the same length, got shapes {t.shape} and {p.shape}"
        )
    if t.size == 0:
        raise ValueError("y_true and y_pred are empty; need at least 1 sample")
    return t, p


def _check_num_classes(num_classes, top: int) -> int:
    """``num_classes`` as an int, checked to be >= 1 and above the largest label ``top``."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise TypeError(f"num_classes must be an int, got {num_classes!r}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if top >= num_classes:
        raise ValueError(f"label {top} is out of range for num_classes={num_classes}")
    return int(num_classes)


def _class_list(t, p, num_classes, labels) -> np.ndarray | None:
    """The ``labels=`` argument for scikit-learn; None means the labels present."""
    if num_classes is not None and labels is not None:
        raise ValueError("give either num_classes or labels, not both")
    if num_classes is not None:
        return np.arange(_check_num_classes(num_classes, int(max(t.max(), p.max()))))
    if labels is None:
        return None
    wanted = _as_labels(labels, "labels")
    if wanted.size == 0:
        raise ValueError("labels must name at least one class")
    if np.unique(wanted).size != wanted.size:
        raise ValueError(f"labels must not repeat a class, got {wanted.tolist()}")
    return wanted


def accuracy(y_true, y_pred) -> float:
    """Fraction of positions where ``y_pred`` equals ``y_true`` (``sklearn.metrics.accuracy_score``).

    ``y_true``, ``y_pred``: 1-D integer labels of shape (N,), N >= 1.
    Returns a Python float in [0, 1].
    """
    t, p = _check_pair(y_true, y_pred)
    return float(_sklearn_metrics().accuracy_score(t, p))


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """Count matrix ``C[i, j]`` = number of samples of true class i predicted as j.

    ``y_true``, ``y_pred``: 1-D integer labels of shape (N,).
    ``num_classes``: K; defaults to ``max(label) + 1`` so that row/column i is
    always class i (``sklearn.metrics.confusion_matrix`` with
    ``labels=range(K)``).  Labels >= K raise ValueError.

    Returns an int64 ndarray of shape (K, K).
    """
    t, p = _check_pair(y_true, y_pred)
    top = int(max(t.max(), p.max()))
    k = top + 1 if num_classes is None else _check_num_classes(num_classes, top)
    counts = _sklearn_metrics().confusion_matrix(t, p, labels=np.arange(k))
    return counts.astype(np.int64, copy=False)


def _score(sklearn_name, y_true, y_pred, average, zero_division, num_classes, labels):
    if average not in _AVERAGES:
        raise ValueError(f"average must be one of {_AVERAGES}, got {average!r}")
    t, p = _check_pair(y_true, y_pred)
    classes = _class_list(t, p, num_classes, labels)
    score = getattr(_sklearn_metrics(), sklearn_name)
    result = score(t, p, labels=classes, average=average, zero_division=zero_division)
    return np.asarray(result, dtype=np.float64) if average is None else float(result)


_SCORE_DOC = """{title}

    ``sklearn.metrics.{name}`` on the labels, with ``labels=range(num_classes)``
    when ``num_classes`` is given.

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
    return _score("precision_score", y_true, y_pred, average, zero_division, num_classes, labels)


def recall_score(
    y_true, y_pred, average="macro", zero_division="warn", num_classes=None, labels=None
):
    return _score("recall_score", y_true, y_pred, average, zero_division, num_classes, labels)


def f1_score(
    y_true, y_pred, average="macro", zero_division="warn", num_classes=None, labels=None
):
    return _score("f1_score", y_true, y_pred, average, zero_division, num_classes, labels)


precision_score.__doc__ = _SCORE_DOC.format(
    title="Precision tp / (tp + fp) per class, optionally averaged.",
    name="precision_score",
    denominator="a class has no predicted samples (tp + fp)",
)
recall_score.__doc__ = _SCORE_DOC.format(
    title="Recall tp / (tp + fn) per class, optionally averaged.",
    name="recall_score",
    denominator="a class has no true samples (tp + fn)",
)
f1_score.__doc__ = _SCORE_DOC.format(
    title="F1 = 2 tp / (2 tp + fp + fn) per class, optionally averaged.",
    name="f1_score",
    denominator="a class has neither true nor predicted samples",
)
