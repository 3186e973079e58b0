"""What the linear-model estimators share: argument checks and row blocks."""

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight

PREDICT_BLOCK = 65536


def resolve_lambda_init(value, d, name="lambda_init"):
    """The initial weight precisions as an array of shape (d,): ones when ``value`` is None.

    Raises
    ------
    ValueError
        A shape other than () or (d,), or a value that is not positive and finite.
    """
    if value is None:
        return np.ones(d)
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(d, float(arr))
    if arr.shape != (d,):
        raise ValueError(
            f"{name} must be a positive float or an array of shape (n_features,)=({d},); "
            f"got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must contain only positive finite values")
    return arr


def check_weights(sample_weight, X):
    """Validated float64 sample weights of shape (n_samples,): non-negative, finite, positive sum.

    Raises
    ------
    ValueError
        Negative, non-finite or all-zero weights, or a length other than X's.
    """
    sw = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
    if not np.all(np.isfinite(sw)):
        raise ValueError("sample_weight must be finite")
    if not np.sum(sw) > 0:
        raise ValueError("sample_weight must have a positive sum; got all zeros")
    return sw


def rows_blocks(X):
    """Dense C-contiguous float blocks of rows of X (sparse X is densified block by block)."""
    n = X.shape[0]
    for i in range(0, n, PREDICT_BLOCK):
        Xb = X[i:i + PREDICT_BLOCK]
        if sp.issparse(Xb):
            Xb = Xb.toarray()
        yield i, np.ascontiguousarray(Xb)


COMMON_CONSTRAINTS = {
    "ard": ["boolean"],
    "lambda_1": [Interval(numbers.Real, 0, None, closed="neither")],
    "lambda_2": [Interval(numbers.Real, 0, None, closed="neither")],
    "lambda_init": [None, Interval(numbers.Real, 0, None, closed="neither"), "array-like"],
    "fit_lambda": ["boolean"],
    "fit_intercept": ["boolean"],
    "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
    "tol": [Interval(numbers.Real, 0, None, closed="left")],
    "verbose": ["verbose"],
    "progress_bar": ["boolean"],
    "backend": [StrOptions({"auto", "cython", "numba", "numpy"})],
    "n_jobs": [None, numbers.Integral],
}
