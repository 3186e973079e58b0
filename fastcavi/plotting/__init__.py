"""Plots of fitted fastcavi estimators (matplotlib, the optional ``plot`` extra).

The core package never imports this module or matplotlib. Displays follow
scikit-learn's convention: ``XxxDisplay.from_estimator(est, ..., ax=None)``
draws and returns an object holding the figure and the artists; the plain
functions take ``ax=`` and return the Axes.

- :class:`ElboHistoryDisplay`: the ELBO of every pass and its gap to the final
  value (log scale), LDA's perplexity passes marked (any estimator).
- :class:`TopWordsDisplay`: a grid of bar charts of each topic's top words (LDA).
- :func:`plot_doc_topics`: a heatmap of document-topic proportions, sorted (LDA).
- :class:`MixtureDisplay`: a Gaussian mixture on a 2-D PCA projection, with the
  components' covariance ellipses and weights.
- :class:`CoefficientDisplay`: regression coefficients with posterior intervals.
- :func:`plot_inclusion_probabilities`: spike-and-slab posterior inclusion
  probabilities.
- :func:`pyldavis_data`: the arguments of ``pyLDAvis.prepare`` for a fitted LDA.
"""

try:
    import matplotlib  # noqa: F401
except ImportError:  # one line, naming the extra
    raise ImportError(
        'fastcavi.plotting needs matplotlib, which is not installed: pip install "fastcavi[plot]"'
    ) from None

from ._convergence import ElboHistoryDisplay  # noqa: E402
from ._mixture import MixtureDisplay  # noqa: E402
from ._pyldavis import pyldavis_data  # noqa: E402
from ._regression import CoefficientDisplay, plot_inclusion_probabilities  # noqa: E402
from ._topics import TopWordsDisplay, plot_doc_topics  # noqa: E402

__all__ = [
    "ElboHistoryDisplay",
    "TopWordsDisplay",
    "plot_doc_topics",
    "MixtureDisplay",
    "CoefficientDisplay",
    "plot_inclusion_probabilities",
    "pyldavis_data",
]
