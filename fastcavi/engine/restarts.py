"""Random restarts: run a fit several times and keep the best (``n_init``)."""

import math

__all__ = ["best_of"]


def best_of(n, fit_once):
    """Call ``fit_once(i)`` for ``i`` in ``range(n)`` and keep the best result.

    Mean-field objectives have local optima, so an estimator may fit from
    several initialisations (scikit-learn's ``n_init``). The rule is
    scikit-learn's ``BaseMixture.fit_predict``: a result replaces the best so
    far when its score is larger, or whatever its score while the best score
    is still -inf (so with nothing to compare, e.g. ``max_iter=0``, the last
    result is kept); ties keep the earlier result.

    Parameters
    ----------
    n : int
        Number of fits (at least 1).
    fit_once : callable
        ``fit_once(i) -> (score, result)``, ``score`` a float (larger is
        better; the mixture gives its lower bound). It draws its own
        initialisation (from a random state the caller shares across calls, so
        the restarts differ).

    Returns
    -------
    result : object
        The kept result.
    score : float
        Its score.
    """
    best, best_score = None, -math.inf
    for i in range(n):
        score, result = fit_once(i)
        if score > best_score or best_score == -math.inf:
            best, best_score = result, score
    return best, best_score
