"""The ELBO history of any fitted estimator."""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..lda import LatentDirichletAllocation
from ..linear_model import SpikeSlabRegression, VBLinearRegression, VBLogisticRegression
from ..mixture import BayesianGaussianMixture

_ESTIMATORS = (LatentDirichletAllocation, BayesianGaussianMixture, VBLinearRegression,
               VBLogisticRegression, SpikeSlabRegression)


class ElboHistoryDisplay:
    """The ELBO after every pass, and its gap to the final value on a log scale.

    Build it with :meth:`from_estimator` (any fitted fastcavi estimator) or
    :meth:`from_history` (a list of ELBO values, e.g. from the command line's
    JSON output). The top Axes shows the ELBO (nats), one point per pass; the
    bottom one the gap ``final - ELBO_t`` (nats, log scale), where the final
    value is the last entry of the history, so the last pass (gap 0) and any
    pass at or above the final value are left out of the gap line. Passes
    where LDA evaluated its perplexity (``evaluate_every``) are marked on both.

    Parameters
    ----------
    histories : list of ndarray of shape (n_passes_i,)
        One ELBO history (nats) per line.
    labels : list of str or None
        Legend entries, one per history (None: no legend).
    evaluated : list of ndarray of shape (n_marked_i,), int
        Per history, the 1-based passes to mark (may be empty).
    seconds : list of ndarray of shape (n_passes_i,) or None
        Per history, the elapsed time at the end of each pass; the x axis is
        then in seconds instead of passes.

    Attributes
    ----------
    lines_ : list of matplotlib.lines.Line2D
        The ELBO lines (``lines_[i]`` has one point per pass of history i).
    line_ : matplotlib.lines.Line2D
        ``lines_[0]``.
    gap_lines_ : list of matplotlib.lines.Line2D
        The gap lines (log-scale Axes).
    marks_ : list of matplotlib.collections.PathCollection
        The perplexity marks on the ELBO Axes (one collection per marked history).
    ax_ : matplotlib.axes.Axes
        The ELBO Axes.
    gap_ax_ : matplotlib.axes.Axes
        The gap Axes.
    figure_ : matplotlib.figure.Figure

    Examples
    --------
    >>> from sklearn.datasets import make_multilabel_classification
    >>> from fastcavi import LatentDirichletAllocation
    >>> from fastcavi.plotting import ElboHistoryDisplay
    >>> X, _ = make_multilabel_classification(random_state=0)
    >>> lda = LatentDirichletAllocation(n_components=5, evaluate_every=2,
    ...                                 random_state=0).fit(X)
    >>> disp = ElboHistoryDisplay.from_estimator(lda)
    >>> len(disp.line_.get_xdata()) == len(lda.elbo_history_)
    True
    """

    def __init__(self, histories, labels=None, evaluated=None, seconds=None):
        self.histories = [np.asarray(h, dtype=np.float64) for h in histories]
        self.labels = labels
        self.evaluated = evaluated if evaluated is not None else [
            np.zeros(0, dtype=np.int64) for _ in self.histories]
        self.seconds = seconds

    def plot(self, ax=None):
        """Draw the lines.

        Parameters
        ----------
        ax : matplotlib Axes, pair of Axes or None, default=None
            None: a new figure with the ELBO above the gap (shared x). One
            Axes: the ELBO there and the gap on its twin (``ax.twinx()``). A
            pair ``(elbo_ax, gap_ax)``: one each.

        Returns
        -------
        self : ElboHistoryDisplay

        Raises
        ------
        ValueError
            If ``ax`` is a sequence whose length is not 2.
        """
        if ax is None:
            import matplotlib.pyplot as plt

            _, (ax, gap_ax) = plt.subplots(2, 1, sharex=True)
            stacked = True
        elif isinstance(ax, (list, tuple, np.ndarray)):
            if len(ax) != 2:
                raise ValueError(f"ElboHistoryDisplay.plot: ax must be one Axes or a pair, "
                                 f"got {len(ax)} Axes")
            ax, gap_ax = ax
            stacked = False
        else:
            gap_ax = ax.twinx()
            stacked = False
        self.lines_, self.gap_lines_, self.marks_ = [], [], []
        for i, h in enumerate(self.histories):
            x = (np.arange(1, h.size + 1) if self.seconds is None
                 else np.asarray(self.seconds[i], dtype=np.float64))
            label = None if self.labels is None else self.labels[i]
            (line,) = ax.plot(x, h, marker=".", label=label)
            self.lines_.append(line)
            gap = h[-1] - h if h.size else h
            gap = np.where(gap > 0, gap, np.nan)
            (gap_line,) = gap_ax.plot(x, gap, marker=".", linestyle="--",
                                      color=line.get_color())
            self.gap_lines_.append(gap_line)
            marked = np.asarray(self.evaluated[i], dtype=np.int64)
            if marked.size:
                first = "perplexity evaluated" if not self.marks_ else None
                self.marks_.append(ax.scatter(x[marked - 1], h[marked - 1], marker="o",
                                              s=60, facecolors="none", edgecolors="k",
                                              zorder=3, label=first))
                gap_ax.scatter(x[marked - 1], gap[marked - 1], marker="o", s=60,
                               facecolors="none", edgecolors="k", zorder=3)
        gap_ax.set_yscale("log")
        ax.set_ylabel("ELBO (nats)")
        gap_ax.set_ylabel("gap to final ELBO (nats)")
        xlabel = "pass" if self.seconds is None else "time (seconds)"
        gap_ax.set_xlabel(xlabel)
        if not stacked:
            ax.set_xlabel(xlabel)
        if self.labels is not None or self.marks_:
            ax.legend()
        self.line_ = self.lines_[0]
        self.ax_, self.gap_ax_, self.figure_ = ax, gap_ax, ax.figure
        return self

    @classmethod
    def from_history(cls, elbo_history, *, seconds=None, evaluate_every=None, label=None,
                     ax=None):
        """Plot one ELBO history given as numbers.

        Parameters
        ----------
        elbo_history : array-like of shape (n_passes,)
            The ELBO (nats) after each pass.
        seconds : array-like of shape (n_passes,), optional
            Elapsed time (seconds) at the end of each pass; the x axis is then time.
        evaluate_every : int, optional
            Mark every ``evaluate_every``-th pass (LDA's perplexity evaluations).
        label : str, optional
            Legend entry.
        ax : matplotlib Axes, pair of Axes or None
            See :meth:`plot`.

        Returns
        -------
        display : ElboHistoryDisplay

        Raises
        ------
        ValueError
            If ``elbo_history`` is empty or not 1-D, or ``seconds`` has another length.

        Examples
        --------
        >>> from fastcavi.plotting import ElboHistoryDisplay
        >>> disp = ElboHistoryDisplay.from_history([-30.0, -12.0, -10.5, -10.0],
        ...                                        seconds=[0.1, 0.2, 0.3, 0.4])
        >>> disp.ax_.get_ylabel(), disp.gap_ax_.get_xlabel()
        ('ELBO (nats)', 'time (seconds)')
        """
        h = np.asarray(elbo_history, dtype=np.float64)
        if h.ndim != 1 or h.size == 0:
            raise ValueError("ElboHistoryDisplay.from_history: elbo_history must be a "
                             f"non-empty 1-D sequence, got shape {h.shape}")
        if seconds is not None:
            seconds = np.asarray(seconds, dtype=np.float64)
            if seconds.shape != h.shape:
                raise ValueError(f"ElboHistoryDisplay.from_history: seconds has shape "
                                 f"{seconds.shape}, elbo_history {h.shape}")
            seconds = [seconds]
        return cls([h], None if label is None else [label],
                   [_evaluated_passes(h.size, evaluate_every)], seconds).plot(ax=ax)

    @classmethod
    def from_estimator(cls, estimator, *, grid_points=False, ax=None):
        """Plot the ELBO history of a fitted fastcavi estimator.

        Parameters
        ----------
        estimator : fitted fastcavi estimator
            Anything with ``elbo_history_``: LatentDirichletAllocation (its
            ``evaluate_every`` passes are marked), BayesianGaussianMixture,
            VBLinearRegression, VBLogisticRegression (one line per
            one-vs-rest problem), SpikeSlabRegression.
        grid_points : bool, default=False
            SpikeSlabRegression only: one line per grid point
            (``grid_elbo_history_``) instead of the best one's.
        ax : matplotlib Axes, pair of Axes or None
            See :meth:`plot`.

        Returns
        -------
        display : ElboHistoryDisplay

        Raises
        ------
        TypeError
            If ``estimator`` has no ``elbo_history_`` (not a fastcavi
            estimator), or ``grid_points`` is set for another estimator.
        sklearn.exceptions.NotFittedError
            If it is not fitted.
        ValueError
            If the history is empty (e.g. ``max_iter=0``).

        Examples
        --------
        >>> import numpy as np
        >>> from fastcavi import VBLinearRegression
        >>> from fastcavi.plotting import ElboHistoryDisplay
        >>> rng = np.random.default_rng(0)
        >>> X = rng.standard_normal((100, 3))
        >>> reg = VBLinearRegression().fit(X, X @ [1.0, 0.0, -2.0] + rng.standard_normal(100))
        >>> disp = ElboHistoryDisplay.from_estimator(reg)
        >>> disp.gap_ax_.get_yscale()
        'log'
        """
        whom = "ElboHistoryDisplay.from_estimator"
        if not isinstance(estimator, _ESTIMATORS):
            raise TypeError(f"{whom}: estimator must be a fastcavi estimator with an ELBO "
                            f"history (elbo_history_), got {type(estimator).__name__}")
        check_is_fitted(estimator, "elbo_history_")
        if grid_points and not isinstance(estimator, SpikeSlabRegression):
            raise TypeError(f"{whom}: grid_points=True needs a SpikeSlabRegression, "
                            f"got {type(estimator).__name__}")
        labels = None
        if isinstance(estimator, VBLogisticRegression):
            histories = estimator.elbo_history_
            if len(histories) > 1:
                labels = [f"class {c} vs rest" for c in estimator.classes_]
        elif grid_points:
            histories = estimator.grid_elbo_history_
            labels = [f"grid point {g} (weight {w:.2g})"
                      for g, w in enumerate(estimator.grid_weights_)]
        else:
            histories = [estimator.elbo_history_]
        histories = [np.asarray(h, dtype=np.float64) for h in histories]
        if any(h.size == 0 for h in histories):
            raise ValueError(f"{whom}: the estimator's ELBO history is empty (no pass was made)")
        every = (estimator.evaluate_every
                 if isinstance(estimator, LatentDirichletAllocation) else None)
        evaluated = [_evaluated_passes(h.size, every) for h in histories]
        return cls(histories, labels, evaluated).plot(ax=ax)


def _evaluated_passes(n_passes, every):
    """The 1-based passes where ``evaluate_every=every`` evaluates (the stop rule's)."""
    if every is None or every <= 0:
        return np.zeros(0, dtype=np.int64)
    return np.arange(every, n_passes + 1, every, dtype=np.int64)
