"""Argument checks shared by the plotting modules."""

import numpy as np
from sklearn.utils.validation import check_is_fitted


def check_estimator(estimator, classes, whom, attribute):
    """Raise TypeError unless ``estimator`` is one of ``classes``, NotFittedError unless fitted.

    Parameters
    ----------
    estimator : object
    classes : tuple of type
    whom : str
        The function, for messages.
    attribute : str
        A fitted attribute that must exist (e.g. ``"components_"``).
    """
    if not isinstance(estimator, classes):
        names = " or ".join(c.__name__ for c in classes)
        raise TypeError(f"{whom}: estimator must be a fitted {names}, "
                        f"got {type(estimator).__name__}")
    check_is_fitted(estimator, attribute)


def resolve_vocabulary(vocabulary, estimator, whom):
    """``vocabulary`` as an ndarray of str, one per feature of ``estimator``.

    ``vocabulary`` may be a sequence of words, a fitted vectorizer (anything
    with ``get_feature_names_out``), or None for the estimator's
    ``feature_names_in_``.
    """
    if vocabulary is None and getattr(estimator, "feature_names_in_", None) is None:
        raise ValueError(f"{whom}: vocabulary is None and the estimator was fitted "
                         "without feature names; pass the words of the columns of X")
    if hasattr(vocabulary, "get_feature_names_out"):
        vocabulary = vocabulary.get_feature_names_out()
    return _names(vocabulary, estimator, estimator.n_features_in_, whom, "vocabulary",
                  "words", "features (columns of X)")


def resolve_feature_names(feature_names, estimator, n_features, whom):
    """One label per feature: ``feature_names``, ``feature_names_in_`` or ``x0, x1, ...``."""
    if feature_names is None and getattr(estimator, "feature_names_in_", None) is None:
        return np.asarray([f"x{j}" for j in range(n_features)], dtype=object)
    return _names(feature_names, estimator, n_features, whom, "feature_names", "entries",
                  "features")


def _names(values, estimator, n, whom, argument, items, of):
    """``values`` (None: ``feature_names_in_``) as n str, or a TypeError/ValueError naming it."""
    if values is None:
        values = estimator.feature_names_in_
    if isinstance(values, str):
        raise TypeError(f"{whom}: {argument} must be a sequence of str, not a str")
    names = np.asarray([str(v) for v in values], dtype=object)
    if names.ndim != 1 or names.shape[0] != n:
        raise ValueError(f"{whom}: {argument} has {names.shape[0]} {items} but the "
                         f"estimator has {n} {of}")
    return names


def get_ax(ax):
    """``ax``, or the Axes of a new figure when None (pyplot imported only then)."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
    return ax
