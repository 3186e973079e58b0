"""A Gaussian mixture on a 2-D projection, with covariance ellipses and weights."""

import numpy as np
from sklearn.decomposition import PCA
from sklearn.utils.validation import check_array

from ..mixture import BayesianGaussianMixture
from ._checks import check_estimator, get_ax


def full_covariances(covariances, covariance_type, n_components, n_features):
    """``covariances_`` in any layout as an array of shape (n_components, d, d).

    Parameters
    ----------
    covariances : ndarray
        (K, d, d) full, (d, d) tied, (K, d) diag or (K,) spherical.
    covariance_type : {"full", "tied", "diag", "spherical"}
    n_components, n_features : int

    Returns
    -------
    ndarray of shape (n_components, n_features, n_features)
    """
    c = np.asarray(covariances, dtype=np.float64)
    if covariance_type == "full":
        return c
    if covariance_type == "tied":
        return np.broadcast_to(c, (n_components, n_features, n_features))
    eye = np.eye(n_features)
    if covariance_type == "diag":
        return c[:, :, None] * eye
    return c[:, None, None] * eye  # spherical


class MixtureDisplay:
    """The data and a fitted Gaussian mixture on the first two principal components.

    Each component with weight at least ``min_weight`` is drawn as an ellipse
    centred at its projected mean ``P (m_k - mean)``, with the projected
    covariance ``P Sigma_k P^T`` (``Sigma_k`` from ``covariances_``, any
    ``covariance_type``) at ``n_std`` standard deviations, and labelled with
    its weight. With two features the projection is the identity (the axes
    are the features).

    Parameters
    ----------
    points : ndarray of shape (n_samples, 2)
        The projected data.
    means : ndarray of shape (n_shown, 2)
        The projected means of the drawn components.
    covariances : ndarray of shape (n_shown, 2, 2)
        Their projected covariances.
    weights : ndarray of shape (n_shown,)
    components : ndarray of shape (n_shown,), int
        Their rows in the estimator's ``means_``.
    axis_labels : tuple of two str

    Attributes
    ----------
    ellipses_ : list of matplotlib.patches.Ellipse
        One per drawn component (``ellipses_[i].center == means[i]``).
    texts_ : list of matplotlib.text.Text
        The weight labels.
    scatter_ : matplotlib.collections.PathCollection or None
        The data points.
    projection_ : sklearn.decomposition.PCA or None
        The fitted projection (None with two features).
    ax_ : matplotlib.axes.Axes
    figure_ : matplotlib.figure.Figure

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from fastcavi import BayesianGaussianMixture
    >>> from fastcavi.plotting import MixtureDisplay
    >>> X, _ = make_blobs(n_samples=300, n_features=4, centers=3, random_state=0)
    >>> gmm = BayesianGaussianMixture(n_components=3, random_state=0).fit(X)
    >>> disp = MixtureDisplay.from_estimator(gmm, X)
    >>> len(disp.ellipses_)
    3
    """

    def __init__(self, points, means, covariances, weights, components,
                 axis_labels=("x0", "x1")):
        self.points = points
        self.means = np.asarray(means, dtype=np.float64)
        self.covariances = np.asarray(covariances, dtype=np.float64)
        self.weights = np.asarray(weights, dtype=np.float64)
        self.components = np.asarray(components)
        self.axis_labels = axis_labels
        self.projection_ = None

    def plot(self, ax=None, *, n_std=2.0, scatter=True):
        """Draw the points, ellipses and weights.

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
        n_std : float, default=2.0
            Half-axes of each ellipse in standard deviations along its
            principal directions.
        scatter : bool, default=True
            Draw the data points.

        Returns
        -------
        self : MixtureDisplay
        """
        import matplotlib
        from matplotlib.patches import Ellipse

        ax = get_ax(ax)
        self.scatter_ = None
        if scatter and self.points is not None:
            self.scatter_ = ax.scatter(self.points[:, 0], self.points[:, 1], s=4, c="0.6",
                                       alpha=0.5, linewidths=0)
        self.ellipses_, self.texts_ = [], []
        w_max = self.weights.max() if self.weights.size else 1.0
        cycle = matplotlib.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
        for k, (m, c, w) in enumerate(zip(self.means, self.covariances, self.weights)):
            vals, vecs = np.linalg.eigh(c)
            vals = np.clip(vals, 0.0, None)
            angle = np.degrees(np.arctan2(vecs[1, 1], vecs[0, 1]))  # of the major axis
            width, height = 2.0 * n_std * np.sqrt(vals[::-1])
            color = cycle[k % len(cycle)]
            e = Ellipse(xy=(m[0], m[1]), width=width, height=height, angle=angle,
                        facecolor=color, edgecolor=color, linewidth=1.5,
                        alpha=0.15 + 0.5 * w / w_max, label=f"component {self.components[k]}")
            ax.add_patch(e)
            self.ellipses_.append(e)
            ax.plot(m[0], m[1], marker="+", color="k")
            self.texts_.append(ax.annotate(f"{w:.2f}", (m[0], m[1]), xytext=(4, 4),
                                           textcoords="offset points"))
        ax.set_xlabel(self.axis_labels[0])
        ax.set_ylabel(self.axis_labels[1])
        ax.autoscale_view()
        ax.set_title("mixture components (label: weight)")
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, X, *, min_weight=1e-2, n_std=2.0, scatter=True,
                       ax=None):
        """Plot a fitted BayesianGaussianMixture over the data X.

        Parameters
        ----------
        estimator : fitted fastcavi.BayesianGaussianMixture
            Any ``covariance_type``.
        X : array-like of shape (n_samples, n_features)
            Data; a PCA fitted on it gives the projection (n_features >= 2).
        min_weight : float, default=1e-2
            Components with a smaller weight (``weights_``) are not drawn (the
            Dirichlet-process prior leaves many near zero).
        n_std : float, default=2.0
            Ellipse size in standard deviations.
        scatter : bool, default=True
            Draw the data points.
        ax : matplotlib Axes or None

        Returns
        -------
        display : MixtureDisplay

        Raises
        ------
        TypeError
            If ``estimator`` is not a BayesianGaussianMixture.
        sklearn.exceptions.NotFittedError
            If it is not fitted.
        ValueError
            If X does not have the estimator's features, or fewer than 2.

        Examples
        --------
        >>> from sklearn.datasets import make_blobs
        >>> from fastcavi import BayesianGaussianMixture
        >>> from fastcavi.plotting import MixtureDisplay
        >>> X, _ = make_blobs(n_samples=200, centers=2, random_state=0)
        >>> gmm = BayesianGaussianMixture(n_components=2, covariance_type="diag",
        ...                               random_state=0).fit(X)
        >>> disp = MixtureDisplay.from_estimator(gmm, X)
        >>> disp.ax_.get_xlabel()
        'x0'
        """
        whom = "MixtureDisplay.from_estimator"
        check_estimator(estimator, (BayesianGaussianMixture,), whom, "means_")
        X = check_array(X, dtype=np.float64)
        d = estimator.means_.shape[1]
        if X.shape[1] != d:
            raise ValueError(f"{whom}: X has {X.shape[1]} features, the estimator {d}")
        if d < 2:
            raise ValueError(f"{whom}: X needs at least 2 features for a 2-D plot, got {d}")
        K = estimator.means_.shape[0]
        covs = full_covariances(estimator.covariances_, estimator.covariance_type, K, d)
        if d == 2:
            pca, P, center = None, np.eye(2), np.zeros(2)
            names = getattr(estimator, "feature_names_in_", None)
            labels = tuple(str(n) for n in names) if names is not None else ("x0", "x1")
        else:
            pca = PCA(n_components=2).fit(X)
            P, center = pca.components_, pca.mean_
            ratio = pca.explained_variance_ratio_
            labels = tuple(f"PC {i + 1} ({100 * ratio[i]:.0f}% of variance)" for i in range(2))
        weights = np.asarray(estimator.weights_, dtype=np.float64)
        shown = np.flatnonzero(weights >= min_weight)
        if shown.size == 0:
            shown = np.array([int(weights.argmax())])
        means = (estimator.means_[shown] - center) @ P.T
        pcovs = np.einsum("ij,kjl,ml->kim", P, covs[shown], P)
        disp = cls((X - center) @ P.T, means, pcovs, weights[shown], shown, labels)
        disp.projection_ = pca
        return disp.plot(ax=ax, n_std=n_std, scatter=scatter)
