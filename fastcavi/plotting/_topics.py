"""LDA's topics: the top words of each topic, and the document-topic proportions."""

import numpy as np

from ..lda import LatentDirichletAllocation
from ._checks import check_estimator, get_ax, resolve_vocabulary


class TopWordsDisplay:
    """A grid of horizontal bar charts, one per topic, of its top words.

    Bar lengths are the topic-word probabilities E_q[beta_kw] =
    lambda_kw / sum_w lambda_kw (the rows of ``components_`` normalised);
    the heaviest word is at the top.

    Parameters
    ----------
    top_words : list of ndarray of str, each of shape (n_words,)
        Per plotted topic, its top words, heaviest first.
    weights : list of ndarray of shape (n_words,)
        Their probabilities under the topic.
    topics : ndarray of shape (n_topics,), int
        The topic indices plotted.

    Attributes
    ----------
    bars_ : list of matplotlib.container.BarContainer
        One per topic, ``n_words`` bars each.
    axes_ : ndarray of matplotlib.axes.Axes
        One per topic, in ``topics`` order (unused grid cells are hidden).
    figure_ : matplotlib.figure.Figure

    Examples
    --------
    >>> from sklearn.datasets import make_multilabel_classification
    >>> from fastcavi import LatentDirichletAllocation
    >>> from fastcavi.plotting import TopWordsDisplay
    >>> X, _ = make_multilabel_classification(n_features=20, random_state=0)
    >>> lda = LatentDirichletAllocation(n_components=4, random_state=0).fit(X)
    >>> vocabulary = [f"word{j}" for j in range(20)]
    >>> disp = TopWordsDisplay.from_estimator(lda, vocabulary, n_words=5)
    >>> len(disp.bars_), len(disp.bars_[0])
    (4, 5)
    """

    def __init__(self, top_words, weights, topics):
        self.top_words = top_words
        self.weights = weights
        self.topics = np.asarray(topics)

    def plot(self, ax=None, *, n_cols=5):
        """Draw the grid.

        Parameters
        ----------
        ax : matplotlib Axes, array-like of Axes or None, default=None
            None: a new figure. One Axes: its area is split into the grid (the
            Axes is removed). Several: at least one per topic, used in order.
        n_cols : int, default=5
            Columns of the grid (when the Axes are made here).

        Returns
        -------
        self : TopWordsDisplay

        Raises
        ------
        ValueError
            If fewer Axes than topics are given, or ``n_cols < 1``.
        """
        n = len(self.top_words)
        if n_cols < 1:
            raise ValueError(f"TopWordsDisplay.plot: n_cols must be >= 1, got {n_cols}")
        n_cols = min(n_cols, n)
        n_rows = -(-n // n_cols)
        if ax is None:
            import matplotlib.pyplot as plt

            fig, grid = plt.subplots(n_rows, n_cols, squeeze=False,
                                     figsize=(2.6 * n_cols, 0.25 * len(self.top_words[0])
                                              * n_rows + 0.8 * n_rows))
            axes = grid.ravel()
        elif isinstance(ax, (list, tuple, np.ndarray)):
            axes = np.asarray(ax, dtype=object).ravel()
            if axes.size < n:
                raise ValueError(f"TopWordsDisplay.plot: ax has {axes.size} Axes for "
                                 f"{n} topics")
            fig = axes[0].figure
        else:
            fig = ax.figure
            spec = ax.get_subplotspec().subgridspec(n_rows, n_cols)
            ax.remove()
            axes = np.array([fig.add_subplot(spec[i // n_cols, i % n_cols])
                             for i in range(n_rows * n_cols)], dtype=object)
        self.bars_ = []
        for i, (words, w) in enumerate(zip(self.top_words, self.weights)):
            a = axes[i]
            y = np.arange(len(words))
            self.bars_.append(a.barh(y, w, tick_label=list(words)))
            a.invert_yaxis()  # heaviest on top
            a.set_title(f"topic {self.topics[i]}")
            a.set_xlabel("P(word | topic)")
        for a in axes[n:]:
            a.set_visible(False)
        self.axes_ = axes[:n]
        self.figure_ = fig
        return self

    @classmethod
    def from_estimator(cls, estimator, vocabulary=None, *, n_words=10, topics=None, n_cols=5,
                       ax=None):
        """Plot the top words of the topics of a fitted LDA.

        Parameters
        ----------
        estimator : fitted fastcavi.LatentDirichletAllocation
        vocabulary : sequence of str of length n_features, fitted vectorizer or None
            The word of each column of X; a vectorizer's
            ``get_feature_names_out()``; None: the estimator's
            ``feature_names_in_`` (fitted on a DataFrame).
        n_words : int, default=10
            Bars per topic (at most n_features).
        topics : sequence of int, optional
            The topics to plot (default: all, in order).
        n_cols : int, default=5
            Columns of the grid.
        ax : matplotlib Axes, array-like of Axes or None
            See :meth:`plot`.

        Returns
        -------
        display : TopWordsDisplay

        Raises
        ------
        TypeError
            If ``estimator`` is not a LatentDirichletAllocation, or
            ``vocabulary`` is a str.
        sklearn.exceptions.NotFittedError
            If it is not fitted.
        ValueError
            If ``vocabulary`` does not have one word per feature, ``n_words``
            is not in [1, n_features], or a topic index is out of range.

        Examples
        --------
        >>> from sklearn.feature_extraction.text import CountVectorizer
        >>> from fastcavi import LatentDirichletAllocation
        >>> from fastcavi.plotting import TopWordsDisplay
        >>> docs = ["apples and pears", "pears and plums", "cars and trucks", "trucks go"]
        >>> vec = CountVectorizer()
        >>> lda = LatentDirichletAllocation(n_components=2, random_state=0)
        >>> lda = lda.fit(vec.fit_transform(docs))
        >>> disp = TopWordsDisplay.from_estimator(lda, vec, n_words=3)
        >>> [t.get_text() for t in disp.axes_[0].get_yticklabels()] == list(disp.top_words[0])
        True
        """
        whom = "TopWordsDisplay.from_estimator"
        check_estimator(estimator, (LatentDirichletAllocation,), whom, "components_")
        words = resolve_vocabulary(vocabulary, estimator, whom)
        lam = np.asarray(estimator.components_, dtype=np.float64)
        n_topics, n_features = lam.shape
        if not 1 <= int(n_words) <= n_features:
            raise ValueError(f"{whom}: n_words must be in [1, {n_features}], got {n_words}")
        topics = np.arange(n_topics) if topics is None else np.asarray(topics, dtype=np.int64)
        if topics.ndim != 1 or topics.size == 0 or (topics < 0).any() or \
                (topics >= n_topics).any():
            raise ValueError(f"{whom}: topics must be indices in [0, {n_topics}), got "
                             f"{topics.tolist()}")
        beta = lam / lam.sum(axis=1, keepdims=True)
        top_words, weights = [], []
        for k in topics:
            order = np.argsort(-beta[k], kind="stable")[: int(n_words)]
            top_words.append(words[order])
            weights.append(beta[k, order])
        return cls(top_words, weights, topics).plot(ax=ax, n_cols=n_cols)


def plot_doc_topics(estimator, X, *, sort=True, ax=None, cmap="viridis"):
    """Heatmap of the document-topic proportions E_q[theta_d] of a fitted LDA.

    Rows are documents, columns topics. With ``sort`` the documents are
    grouped by their dominant topic (topic 0's first) and, within a group,
    ordered by that topic's proportion, largest first.

    Parameters
    ----------
    estimator : fitted fastcavi.LatentDirichletAllocation
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Word counts of the documents to show (``estimator.transform(X)``).
    sort : bool, default=True
        Sort the documents as above (False: in the order of X).
    ax : matplotlib Axes or None, default=None
        Where to draw (None: a new figure).
    cmap : str or Colormap, default="viridis"

    Returns
    -------
    ax : matplotlib.axes.Axes
        ``ax.images[0]`` is the heatmap, its array of shape (n_samples,
        n_topics) the proportions in display order; a colorbar is added.

    Raises
    ------
    TypeError
        If ``estimator`` is not a LatentDirichletAllocation.
    sklearn.exceptions.NotFittedError
        If it is not fitted.
    ValueError
        If X does not have the estimator's number of features (from ``transform``).

    Examples
    --------
    >>> from sklearn.datasets import make_multilabel_classification
    >>> from fastcavi import LatentDirichletAllocation
    >>> from fastcavi.plotting import plot_doc_topics
    >>> X, _ = make_multilabel_classification(random_state=0)
    >>> lda = LatentDirichletAllocation(n_components=5, random_state=0).fit(X)
    >>> ax = plot_doc_topics(lda, X)
    >>> ax.images[0].get_array().shape
    (100, 5)
    """
    check_estimator(estimator, (LatentDirichletAllocation,), "plot_doc_topics", "components_")
    theta = np.asarray(estimator.transform(X), dtype=np.float64)
    if sort and theta.shape[0]:
        dominant = theta.argmax(axis=1)
        order = np.lexsort((-theta[np.arange(theta.shape[0]), dominant], dominant))
        theta = theta[order]
    ax = get_ax(ax)
    image = ax.imshow(theta, aspect="auto", interpolation="nearest", cmap=cmap,
                      vmin=0.0, vmax=1.0)
    ax.set_xlabel("topic")
    ax.set_ylabel("document (sorted by dominant topic)" if sort else "document")
    n_topics = theta.shape[1]
    if n_topics <= 20:
        ax.set_xticks(np.arange(n_topics))
    ax.figure.colorbar(image, ax=ax, label="topic proportion")
    return ax
