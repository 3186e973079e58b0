"""Regression coefficients with posterior intervals; spike-and-slab inclusion probabilities."""

import numpy as np
from scipy import stats

from ..linear_model import SpikeSlabRegression, VBLinearRegression, VBLogisticRegression
from ._checks import check_estimator, get_ax, resolve_feature_names

_UNITS = {
    VBLinearRegression: "coefficient (units of y per unit of x)",
    VBLogisticRegression: "coefficient (log-odds per unit of x)",
    SpikeSlabRegression: "coefficient (units of y per unit of x)",
}


def posterior_intervals(estimator, level=0.95, interval="auto", problem=0):
    """Posterior means and equal-tailed credible intervals of the weights.

    Parameters
    ----------
    estimator : fitted VBLinearRegression, VBLogisticRegression or SpikeSlabRegression
    level : float, default=0.95
        Posterior probability inside each interval, in (0, 1).
    interval : {"auto", "t", "normal"}, default="auto"
        VBLinearRegression: "t" (the default) the exact marginal of q(w),
        Student-t with 2 a_N degrees of freedom and scale sqrt(diag(V) b_N /
        a_N); "normal" a Gaussian with the posterior covariance ``sigma_``.
        VBLogisticRegression: q(w) is Gaussian ("normal"). SpikeSlabRegression:
        the quantiles of the mixture ``sum_g w_g (alpha_gj N(mu_gj, s_gj) +
        (1 - alpha_gj) delta_0)`` (a point mass at 0 and a slab; "auto" only).
    problem : int, default=0
        VBLogisticRegression: the row of ``coef_`` (one-vs-rest problem).

    Returns
    -------
    mean, lower, upper : ndarray of shape (n_features,)
    """
    whom = "posterior_intervals"
    if not 0.0 < level < 1.0:
        raise ValueError(f"{whom}: level must be in (0, 1), got {level}")
    q = 0.5 + level / 2.0
    if isinstance(estimator, VBLinearRegression):
        if interval not in ("auto", "t", "normal"):
            raise ValueError(f"{whom}: interval must be 'auto', 't' or 'normal' for "
                             f"VBLinearRegression, got {interval!r}")
        m = estimator.coef_
        var = np.diag(estimator.sigma_).copy()
        an = estimator.a_n_
        if interval == "normal":
            half = stats.norm.ppf(q) * np.sqrt(var)
        else:  # sigma_ = V b/(a-1) (a > 1) or V b/a; the t scale^2 is V b/a
            scale2 = var * (an - 1.0) / an if an > 1.0 else var
            half = stats.t.ppf(q, df=2.0 * an) * np.sqrt(scale2)
        return m, m - half, m + half
    if isinstance(estimator, VBLogisticRegression):
        if interval not in ("auto", "normal"):
            raise ValueError(f"{whom}: interval must be 'auto' or 'normal' for "
                             f"VBLogisticRegression (q(w) is Gaussian), got {interval!r}")
        n_problems = estimator.coef_.shape[0]
        if not 0 <= problem < n_problems:
            raise ValueError(f"{whom}: problem must be in [0, {n_problems}), got {problem}")
        d = estimator.coef_.shape[1]
        m = estimator.coef_[problem]
        sd = np.sqrt(np.diag(estimator.sigma_[problem])[:d])
        half = stats.norm.ppf(q) * sd
        return m, m - half, m + half
    if interval != "auto":
        raise ValueError(f"{whom}: interval must be 'auto' for SpikeSlabRegression, "
                         f"got {interval!r}")
    return (estimator.coef_,) + _mixture_quantiles(
        estimator.grid_weights_, estimator.grid_alpha_, estimator.grid_mu_,
        estimator.grid_s_, (1.0 - q, q))


def _mixture_quantiles(w, alpha, mu, s, probs, n_bisect=80):
    """Quantiles per feature of sum_g w_g (alpha_gj N(mu_gj, s_gj) + (1 - alpha_gj) delta_0)."""
    w = np.asarray(w, dtype=np.float64)[:, None]
    sd = np.sqrt(np.maximum(s, 1e-300))

    def cdf(x, spike=True):
        slab = alpha * stats.norm.cdf((x[None, :] - mu) / sd)
        return (w * (slab + (1.0 - alpha) * (spike & (x[None, :] >= 0)))).sum(axis=0)

    zero = np.zeros(mu.shape[1])
    at_zero, below_zero = cdf(zero), cdf(zero, spike=False)

    lo0 = np.minimum((mu - 12 * sd).min(axis=0), 0.0) - 1e-12
    hi0 = np.maximum((mu + 12 * sd).max(axis=0), 0.0) + 1e-12
    out = []
    for p in probs:
        lo, hi = lo0.copy(), hi0.copy()
        for _ in range(n_bisect):  # smallest x with cdf(x) >= p
            mid = 0.5 * (lo + hi)
            above = cdf(mid) >= p
            hi = np.where(above, mid, hi)
            lo = np.where(above, lo, mid)
        # where p falls in the jump of the point mass the quantile is exactly 0
        out.append(np.where((below_zero < p) & (p <= at_zero), 0.0, hi))
    return tuple(out)


class CoefficientDisplay:
    """Posterior means of regression weights with equal-tailed credible intervals.

    One row per feature: a point at the posterior mean and a bar over the
    interval (see :meth:`from_estimator` for each estimator's posterior).

    Parameters
    ----------
    coef : ndarray of shape (n_features,)
    lower, upper : ndarray of shape (n_features,)
        Interval ends.
    feature_names : ndarray of str of shape (n_features,)
    level : float
    xlabel : str

    Attributes
    ----------
    points_ : matplotlib.lines.Line2D
        One point per feature at ``coef`` (y = 0, 1, ... top down).
    intervals_ : matplotlib.collections.LineCollection
        One segment per feature from ``lower`` to ``upper``.
    ax_ : matplotlib.axes.Axes
    figure_ : matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from fastcavi import VBLinearRegression
    >>> from fastcavi.plotting import CoefficientDisplay
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((100, 3))
    >>> reg = VBLinearRegression().fit(X, X @ [1.0, 0.0, -2.0] + rng.standard_normal(100))
    >>> disp = CoefficientDisplay.from_estimator(reg, level=0.9)
    >>> bool(np.all(disp.lower <= disp.coef) and np.all(disp.coef <= disp.upper))
    True
    """

    def __init__(self, coef, lower, upper, feature_names, level,
                 xlabel="coefficient"):
        self.coef = np.asarray(coef, dtype=np.float64)
        self.lower = np.asarray(lower, dtype=np.float64)
        self.upper = np.asarray(upper, dtype=np.float64)
        self.feature_names = feature_names
        self.level = level
        self.xlabel = xlabel

    def plot(self, ax=None):
        """Draw the points and intervals.

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None

        Returns
        -------
        self : CoefficientDisplay
        """
        ax = get_ax(ax)
        y = np.arange(self.coef.size)
        # not errorbar(): a spike-and-slab posterior mean may lie outside its interval
        self.intervals_ = ax.hlines(y, self.lower, self.upper, linewidth=2,
                                    label=f"{100 * self.level:g}% credible interval")
        (self.points_,) = ax.plot(self.coef, y, "o", color="k", label="posterior mean")
        ax.axvline(0.0, color="0.5", linewidth=0.8)
        ax.set_yticks(y, labels=list(self.feature_names))
        ax.invert_yaxis()
        ax.set_xlabel(self.xlabel)
        ax.legend()
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, *, level=0.95, interval="auto", problem=0,
                       feature_names=None, ax=None):
        """Plot the weights of a fitted VB linear, VB logistic or spike-and-slab regression.

        Parameters
        ----------
        estimator : fitted VBLinearRegression, VBLogisticRegression or SpikeSlabRegression
            The intercept is not shown.
        level : float, default=0.95
            Posterior probability inside each interval, in (0, 1).
        interval : {"auto", "t", "normal"}, default="auto"
            VBLinearRegression: "auto"/"t" the exact Student-t marginal of
            q(w) (2 a_N degrees of freedom), "normal" a Gaussian with
            covariance ``sigma_``. VBLogisticRegression: Gaussian, from
            ``sigma_``. SpikeSlabRegression: the exact quantiles of the
            spike-and-slab marginal (averaged over the grid by
            ``grid_weights_``), "auto" only; such an interval contains 0
            when the posterior probability of 0 is above ``1 - level``, and
            the posterior mean ``coef_`` may then lie outside it.
        problem : int, default=0
            VBLogisticRegression: which row of ``coef_`` (one-vs-rest problem).
        feature_names : sequence of str of length n_features, optional
            Row labels (default: ``feature_names_in_`` or x0, x1, ...).
        ax : matplotlib Axes or None

        Returns
        -------
        display : CoefficientDisplay

        Raises
        ------
        TypeError
            If ``estimator`` is not one of the three.
        sklearn.exceptions.NotFittedError
            If it is not fitted.
        ValueError
            If ``level`` is not in (0, 1), ``interval`` does not apply, or
            ``feature_names`` or ``problem`` does not fit the estimator.

        Examples
        --------
        >>> from sklearn.datasets import load_breast_cancer
        >>> from sklearn.preprocessing import StandardScaler
        >>> from fastcavi import VBLogisticRegression
        >>> from fastcavi.plotting import CoefficientDisplay
        >>> X, y = load_breast_cancer(return_X_y=True)
        >>> clf = VBLogisticRegression().fit(StandardScaler().fit_transform(X[:, :5]), y)
        >>> disp = CoefficientDisplay.from_estimator(clf)
        >>> disp.ax_.get_xlabel()
        'coefficient (log-odds per unit of x)'
        """
        whom = "CoefficientDisplay.from_estimator"
        classes = (VBLinearRegression, VBLogisticRegression, SpikeSlabRegression)
        check_estimator(estimator, classes, whom, "coef_")
        m, lo, hi = posterior_intervals(estimator, level, interval, problem)
        names = resolve_feature_names(feature_names, estimator, m.size, whom)
        xlabel = _UNITS[next(c for c in classes if isinstance(estimator, c))]
        return cls(m, lo, hi, names, level, xlabel).plot(ax=ax)


def plot_inclusion_probabilities(estimator, *, feature_names=None, sort=False, ax=None):
    """Bar chart of the posterior inclusion probabilities of a spike-and-slab regression.

    Parameters
    ----------
    estimator : fitted fastcavi.SpikeSlabRegression
    feature_names : sequence of str of length n_features, optional
        Bar labels (default: ``feature_names_in_`` or x0, x1, ...).
    sort : bool, default=False
        Order the bars by inclusion probability, largest first.
    ax : matplotlib Axes or None, default=None

    Returns
    -------
    ax : matplotlib.axes.Axes
        ``ax.containers[0]`` holds one bar per feature, of height ``pip_``;
        a dashed line marks 0.5 (the median probability model).

    Raises
    ------
    TypeError
        If ``estimator`` is not a SpikeSlabRegression.
    sklearn.exceptions.NotFittedError
        If it is not fitted.
    ValueError
        If ``feature_names`` does not have one name per feature.

    Examples
    --------
    >>> import numpy as np
    >>> from fastcavi import SpikeSlabRegression
    >>> from fastcavi.plotting import plot_inclusion_probabilities
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 6))
    >>> y = 2.0 * X[:, 0] + rng.standard_normal(200)
    >>> ss = SpikeSlabRegression(random_state=0).fit(X, y)
    >>> ax = plot_inclusion_probabilities(ss)
    >>> len(ax.containers[0])
    6
    """
    whom = "plot_inclusion_probabilities"
    check_estimator(estimator, (SpikeSlabRegression,), whom, "pip_")
    pip = np.asarray(estimator.pip_, dtype=np.float64)
    names = resolve_feature_names(feature_names, estimator, pip.size, whom)
    order = np.argsort(-pip, kind="stable") if sort else np.arange(pip.size)
    ax = get_ax(ax)
    x = np.arange(pip.size)
    ax.bar(x, pip[order], tick_label=list(names[order]))
    ax.axhline(0.5, color="0.4", linestyle="--", linewidth=0.8)
    ax.set_ylim(0.0, 1.0)
    ax.set_ylabel("posterior inclusion probability")
    ax.set_xlabel("feature")
    if pip.size > 10:
        ax.tick_params(axis="x", labelrotation=90)
    return ax
