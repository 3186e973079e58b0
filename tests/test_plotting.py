"""fastcavi.plotting (issue 14): the artists drawn, on small fitted models, Agg backend.

The checks read the artists, not files: bars and their labels against the top
words, ellipse centres against the projected means, axis labels with units,
one point per pass on the ELBO line. Also the import rules: the core never
imports matplotlib, and fastcavi.plotting without it fails in one line.
"""

import ast
import doctest
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from fastcavi import (  # noqa: E402
    BayesianGaussianMixture,
    LatentDirichletAllocation,
    SpikeSlabRegression,
    VBLinearRegression,
    VBLogisticRegression,
)
from fastcavi import plotting  # noqa: E402
from fastcavi.plotting import (  # noqa: E402
    CoefficientDisplay,
    ElboHistoryDisplay,
    MixtureDisplay,
    TopWordsDisplay,
    plot_doc_topics,
    plot_inclusion_probabilities,
    pyldavis_data,
)

ROOT = Path(__file__).resolve().parent.parent
COV_TYPES = ("full", "tied", "diag", "spherical")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# --------------------------------------------------------------------------
# Small fitted models (each a fraction of a second)
# --------------------------------------------------------------------------


def _corpus(n_docs=60, n_words=30, seed=0):
    """Counts from 3 planted topics over disjoint word blocks, and a vocabulary."""
    rng = np.random.default_rng(seed)
    topics = np.zeros((3, n_words))
    for k in range(3):
        topics[k, k * n_words // 3:(k + 1) * n_words // 3] = 1.0
    topics = 0.01 + topics
    topics /= topics.sum(axis=1, keepdims=True)
    theta = rng.dirichlet(np.full(3, 0.3), n_docs)
    X = np.vstack([rng.multinomial(40, t @ topics) for t in theta]).astype(np.float64)
    X[:, X.sum(axis=0) == 0] += 1.0  # every word occurs (pyLDAvis divides by it)
    return sp.csr_matrix(X), [f"word{j:02d}" for j in range(n_words)]


@pytest.fixture(scope="module")
def lda_fit():
    X, vocab = _corpus()
    lda = LatentDirichletAllocation(n_components=3, max_iter=7, evaluate_every=2,
                                    random_state=0, backend="numpy").fit(X)
    return lda, X, vocab


@pytest.fixture(scope="module")
def regression_data():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((150, 5))
    y = X @ np.array([2.0, 0.0, -1.0, 0.0, 0.5]) + 0.5 * rng.standard_normal(150)
    return X, y


# --------------------------------------------------------------------------
# Import rules
# --------------------------------------------------------------------------


def test_core_never_imports_matplotlib_statically():
    """No module of fastcavi outside fastcavi/plotting/ has an import of matplotlib."""
    offenders = []
    for path in sorted((ROOT / "fastcavi").rglob("*.py")):
        if (ROOT / "fastcavi" / "plotting") in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                     else [])
            if any(n == "matplotlib" or n.startswith("matplotlib.") for n in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, f"matplotlib imported outside fastcavi/plotting/: {offenders}"


def _run(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_import_fastcavi_does_not_load_matplotlib():
    out = _run("import sys, fastcavi\nprint('matplotlib' in sys.modules)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_plotting_without_matplotlib_names_the_extra():
    # sys.modules[name] = None makes `import name` raise ImportError, as if not installed
    out = _run("import sys\nsys.modules['matplotlib'] = None\n"
               "try:\n    import fastcavi.plotting\n"
               "except ImportError as e:\n    print(repr(str(e)))\n")
    assert out.returncode == 0, out.stderr
    message = eval(out.stdout.strip())
    assert "\n" not in message and 'pip install "fastcavi[plot]"' in message


def test_the_plot_extra_and_the_test_extra_carry_matplotlib():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'plot = ["matplotlib>=3.7"]' in text
    test_line = next(line for line in text.splitlines() if line.startswith("test = "))
    assert "matplotlib" in test_line


@pytest.mark.parametrize("module", ["_convergence", "_topics", "_mixture", "_regression",
                                    "_pyldavis"])
def test_docstring_examples_run(module):
    mod = __import__(f"fastcavi.plotting.{module}", fromlist=["_"])
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0


def test_every_public_function_documents_an_example():
    """numpydoc: Parameters, Returns, Raises and Examples on every entry point."""
    sections = ("Parameters\n", "Returns\n", "Raises\n", "Examples\n")
    for name in plotting.__all__:
        obj = getattr(plotting, name)
        if isinstance(obj, type):
            assert "Examples\n" in obj.__doc__, f"{name}: no example"
            entries = [getattr(obj, m) for m in ("from_estimator", "from_history")
                       if hasattr(obj, m)]
            assert "Returns\n" in obj.plot.__doc__, f"{name}.plot: no Returns"
        else:
            entries = [obj]
        for entry in entries:
            missing = [s.strip() for s in sections if s not in (entry.__doc__ or "")]
            assert not missing, f"{name}.{entry.__name__}: no {missing}"


# --------------------------------------------------------------------------
# ELBO history
# --------------------------------------------------------------------------


def test_elbo_line_has_one_point_per_pass_and_marks_perplexity_passes(lda_fit):
    lda, _, _ = lda_fit
    disp = ElboHistoryDisplay.from_estimator(lda)
    h = np.asarray(lda.elbo_history_)
    assert len(h) == lda.n_iter_ == 7
    np.testing.assert_array_equal(disp.line_.get_xdata(), np.arange(1, 8))
    np.testing.assert_array_equal(disp.line_.get_ydata(), h)
    assert disp.ax_.get_ylabel() == "ELBO (nats)"
    assert disp.gap_ax_.get_ylabel() == "gap to final ELBO (nats)"
    assert disp.gap_ax_.get_xlabel() == "pass"
    assert disp.gap_ax_.get_yscale() == "log"
    gap = disp.gap_lines_[0].get_ydata()
    expected = h[-1] - h
    shown = expected > 0
    np.testing.assert_allclose(gap[shown], expected[shown])
    assert np.isnan(gap[~shown]).all() and np.isnan(gap[-1])
    # evaluate_every=2: passes 2, 4, 6
    (marks,) = disp.marks_
    np.testing.assert_array_equal(marks.get_offsets()[:, 0], [2, 4, 6])
    np.testing.assert_allclose(marks.get_offsets()[:, 1], h[[1, 3, 5]])


def test_elbo_without_evaluate_every_has_no_marks(regression_data):
    X, y = regression_data
    reg = VBLinearRegression().fit(X, y)
    disp = ElboHistoryDisplay.from_estimator(reg)
    assert disp.marks_ == []
    assert len(disp.line_.get_xdata()) == reg.n_iter_ == len(reg.elbo_history_)


def test_elbo_of_logistic_has_one_line_per_problem():
    X, y = make_blobs(n_samples=120, centers=3, n_features=2, random_state=0)
    clf = VBLogisticRegression(max_iter=30).fit(X, y)
    disp = ElboHistoryDisplay.from_estimator(clf)
    assert len(disp.lines_) == 3
    for line, h in zip(disp.lines_, clf.elbo_history_):
        assert len(line.get_xdata()) == len(h)
    assert [t.get_text() for t in disp.ax_.get_legend().get_texts()] == [
        f"class {c} vs rest" for c in clf.classes_]


def test_elbo_of_spikeslab_grid_points(regression_data):
    X, y = regression_data
    ss = SpikeSlabRegression(prior_logodds=[-2.0, -1.0], random_state=0).fit(X, y)
    disp = ElboHistoryDisplay.from_estimator(ss, grid_points=True)
    assert [len(line.get_xdata()) for line in disp.lines_] == [
        len(h) for h in ss.grid_elbo_history_]
    single = ElboHistoryDisplay.from_estimator(ss)
    np.testing.assert_array_equal(single.line_.get_ydata(), ss.elbo_history_)


def test_elbo_from_history_in_seconds_on_one_axes():
    fig, ax = plt.subplots()
    disp = ElboHistoryDisplay.from_history([-9.0, -5.0, -4.5, -4.4], seconds=[0.5, 1, 1.5, 2],
                                           evaluate_every=3, ax=ax)
    assert disp.ax_ is ax and disp.figure_ is fig
    assert ax.get_xlabel() == "time (seconds)"
    np.testing.assert_array_equal(disp.line_.get_xdata(), [0.5, 1, 1.5, 2])
    np.testing.assert_array_equal(disp.marks_[0].get_offsets()[:, 0], [1.5])


def test_elbo_bad_input(lda_fit):
    with pytest.raises(NotFittedError):
        ElboHistoryDisplay.from_estimator(VBLinearRegression())
    with pytest.raises(TypeError, match="estimator must be a fastcavi estimator"):
        ElboHistoryDisplay.from_estimator(object())
    with pytest.raises(TypeError, match="grid_points"):
        ElboHistoryDisplay.from_estimator(lda_fit[0], grid_points=True)
    with pytest.raises(ValueError, match="seconds"):
        ElboHistoryDisplay.from_history([1.0, 2.0], seconds=[1.0])
    with pytest.raises(ValueError, match="elbo_history"):
        ElboHistoryDisplay.from_history([])
    with pytest.raises(ValueError, match="ax"):
        ElboHistoryDisplay.from_history([1.0, 2.0], ax=[1, 2, 3])


# --------------------------------------------------------------------------
# Topics
# --------------------------------------------------------------------------


def test_top_words_bars_and_labels_match_the_topics(lda_fit):
    lda, _, vocab = lda_fit
    disp = TopWordsDisplay.from_estimator(lda, vocab, n_words=6, n_cols=2)
    beta = lda.components_ / lda.components_.sum(axis=1, keepdims=True)
    assert len(disp.bars_) == 3 and len(disp.axes_) == 3
    for k, (bars, ax) in enumerate(zip(disp.bars_, disp.axes_)):
        order = np.argsort(-beta[k], kind="stable")[:6]
        assert len(bars) == 6
        labels = [t.get_text() for t in ax.get_yticklabels()]
        assert labels == [vocab[j] for j in order]
        np.testing.assert_allclose([b.get_width() for b in bars], beta[k, order])
        assert ax.get_title() == f"topic {k}"
        assert ax.get_xlabel() == "P(word | topic)"
    # 3 topics on a 2-column grid: the fourth cell is hidden
    assert sum(a.get_visible() for a in disp.figure_.axes) == 3


def test_top_words_splits_one_axes_and_takes_a_vectorizer(lda_fit):
    lda, _, vocab = lda_fit

    class Vectorizer:
        def get_feature_names_out(self):
            return np.array(vocab, dtype=object)

    fig, ax = plt.subplots()
    disp = TopWordsDisplay.from_estimator(lda, Vectorizer(), n_words=3, topics=[2, 0], ax=ax)
    assert disp.figure_ is fig and ax not in fig.axes
    assert [a.get_title() for a in disp.axes_] == ["topic 2", "topic 0"]


def test_top_words_bad_input(lda_fit):
    lda, _, vocab = lda_fit
    with pytest.raises(ValueError, match="vocabulary has 29 words but the estimator has 30"):
        TopWordsDisplay.from_estimator(lda, vocab[:-1])
    with pytest.raises(TypeError, match="vocabulary"):
        TopWordsDisplay.from_estimator(lda, "word")
    with pytest.raises(ValueError, match="vocabulary is None"):
        TopWordsDisplay.from_estimator(lda)
    with pytest.raises(ValueError, match="n_words"):
        TopWordsDisplay.from_estimator(lda, vocab, n_words=0)
    with pytest.raises(ValueError, match="topics"):
        TopWordsDisplay.from_estimator(lda, vocab, topics=[3])
    with pytest.raises(NotFittedError):
        TopWordsDisplay.from_estimator(LatentDirichletAllocation(), vocab)
    with pytest.raises(TypeError, match="estimator must be a fitted LatentDirichletAllocation"):
        TopWordsDisplay.from_estimator(VBLinearRegression(), vocab)


def test_doc_topic_heatmap_is_sorted_by_dominant_topic(lda_fit):
    lda, X, _ = lda_fit
    ax = plot_doc_topics(lda, X)
    shown = ax.images[0].get_array()
    theta = lda.transform(X)
    assert shown.shape == theta.shape
    dominant = shown.argmax(axis=1)
    assert np.all(np.diff(dominant) >= 0)  # grouped, topic 0 first
    for k in np.unique(dominant):
        p = shown[dominant == k, k]
        assert np.all(np.diff(p) <= 0)  # largest first within a group
    # the same rows as transform(X), reordered
    np.testing.assert_allclose(np.sort(shown, axis=0), np.sort(theta, axis=0))
    assert ax.get_xlabel() == "topic"
    assert ax.figure.axes[-1].get_ylabel() == "topic proportion"  # the colorbar
    unsorted = plot_doc_topics(lda, X, sort=False)
    np.testing.assert_allclose(unsorted.images[0].get_array(), theta)


def test_doc_topic_bad_input(lda_fit):
    lda, X, _ = lda_fit
    with pytest.raises(ValueError):
        plot_doc_topics(lda, X[:, :5])
    with pytest.raises(NotFittedError):
        plot_doc_topics(LatentDirichletAllocation(), X)
    with pytest.raises(TypeError, match="LatentDirichletAllocation"):
        plot_doc_topics(BayesianGaussianMixture(), X)


# --------------------------------------------------------------------------
# Mixtures
# --------------------------------------------------------------------------


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_mixture_ellipses_sit_at_the_projected_means(covariance_type):
    X, _ = make_blobs(n_samples=300, n_features=4, centers=3, random_state=0)
    gmm = BayesianGaussianMixture(n_components=3, covariance_type=covariance_type,
                                  random_state=0, max_iter=200).fit(X)
    disp = MixtureDisplay.from_estimator(gmm, X, min_weight=0.0)
    pca = disp.projection_
    expected = pca.transform(gmm.means_)
    assert len(disp.ellipses_) == len(gmm.weights_)
    for e, m in zip(disp.ellipses_, expected):
        np.testing.assert_allclose(e.center, m, atol=1e-9)
    # the ellipse of component 0 is the projected covariance at 2 sd
    from fastcavi.plotting._mixture import full_covariances

    cov = full_covariances(gmm.covariances_, covariance_type, 3, 4)[0]
    pcov = pca.components_ @ cov @ pca.components_.T
    axes = np.sort([disp.ellipses_[0].width, disp.ellipses_[0].height])
    np.testing.assert_allclose(axes, np.sort(4.0 * np.sqrt(np.linalg.eigvalsh(pcov))))
    # the weights are written at the means
    assert [t.get_text() for t in disp.texts_] == [f"{w:.2f}" for w in gmm.weights_]
    np.testing.assert_allclose([t.xy for t in disp.texts_], expected, atol=1e-9)
    assert disp.ax_.get_xlabel().startswith("PC 1 (") and "% of variance" in \
        disp.ax_.get_xlabel()
    np.testing.assert_allclose(disp.scatter_.get_offsets(), pca.transform(X))


def test_mixture_in_two_dimensions_is_not_projected_and_hides_light_components():
    X, _ = make_blobs(n_samples=200, centers=2, random_state=1)
    gmm = BayesianGaussianMixture(n_components=6, random_state=0, max_iter=300).fit(X)
    disp = MixtureDisplay.from_estimator(gmm, X, min_weight=0.05, scatter=False)
    assert disp.projection_ is None and disp.scatter_ is None
    heavy = np.flatnonzero(gmm.weights_ >= 0.05)
    assert 0 < len(disp.ellipses_) == heavy.size
    np.testing.assert_allclose([e.center for e in disp.ellipses_], gmm.means_[heavy])
    assert (disp.ax_.get_xlabel(), disp.ax_.get_ylabel()) == ("x0", "x1")


def test_mixture_bad_input():
    X, _ = make_blobs(n_samples=100, n_features=3, centers=2, random_state=0)
    gmm = BayesianGaussianMixture(n_components=2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="X has 2 features, the estimator 3"):
        MixtureDisplay.from_estimator(gmm, X[:, :2])
    with pytest.raises(NotFittedError):
        MixtureDisplay.from_estimator(BayesianGaussianMixture(), X)
    with pytest.raises(TypeError, match="BayesianGaussianMixture"):
        MixtureDisplay.from_estimator(LatentDirichletAllocation(), X)
    one = BayesianGaussianMixture(n_components=2, random_state=0).fit(X[:, :1])
    with pytest.raises(ValueError, match="at least 2 features"):
        MixtureDisplay.from_estimator(one, X[:, :1])


# --------------------------------------------------------------------------
# Regression
# --------------------------------------------------------------------------


def _interval_ends(disp):
    """(lower, upper) of each row, read from the drawn segments."""
    ends = np.array([seg[:, 0] for seg in disp.intervals_.get_segments()])
    return ends.min(axis=1), ends.max(axis=1)


def test_linear_coefficients_with_t_and_normal_intervals(regression_data):
    from scipy import stats

    X, y = regression_data
    reg = VBLinearRegression().fit(X, y)
    disp = CoefficientDisplay.from_estimator(reg, level=0.9,
                                             feature_names=list("abcde"))
    points = disp.points_
    np.testing.assert_allclose(points.get_xdata(), reg.coef_)
    assert len(points.get_xdata()) == 5
    an = reg.a_n_
    scale = np.sqrt(np.diag(reg.sigma_) * (an - 1) / an)
    half = stats.t.ppf(0.95, 2 * an) * scale
    lower, upper = _interval_ends(disp)
    np.testing.assert_allclose(lower, reg.coef_ - half)
    np.testing.assert_allclose(upper, reg.coef_ + half)
    assert [t.get_text() for t in disp.ax_.get_yticklabels()] == list("abcde")
    assert disp.ax_.get_xlabel() == "coefficient (units of y per unit of x)"
    normal = CoefficientDisplay.from_estimator(reg, level=0.9, interval="normal")
    np.testing.assert_allclose(normal.upper - normal.coef,
                               stats.norm.ppf(0.95) * np.sqrt(np.diag(reg.sigma_)))
    # with 2 a_N = 151 degrees of freedom the two nearly agree
    np.testing.assert_allclose(normal.upper - normal.lower, disp.upper - disp.lower, rtol=1e-3)


def test_logistic_coefficients_are_gaussian_per_problem():
    from scipy import stats

    X, y = make_blobs(n_samples=120, centers=3, n_features=2, random_state=0)
    clf = VBLogisticRegression(max_iter=30).fit(X, y)
    disp = CoefficientDisplay.from_estimator(clf, problem=2)
    np.testing.assert_allclose(disp.coef, clf.coef_[2])
    np.testing.assert_allclose(disp.upper - disp.coef,
                               stats.norm.ppf(0.975) * np.sqrt(np.diag(clf.sigma_[2])[:2]))
    assert disp.ax_.get_xlabel() == "coefficient (log-odds per unit of x)"
    with pytest.raises(ValueError, match="problem"):
        CoefficientDisplay.from_estimator(clf, problem=3)
    with pytest.raises(ValueError, match="interval"):
        CoefficientDisplay.from_estimator(clf, interval="t")


def test_spikeslab_intervals_are_the_mixture_quantiles(regression_data):
    from scipy import stats

    X, y = regression_data
    ss = SpikeSlabRegression(random_state=0).fit(X, y)
    disp = CoefficientDisplay.from_estimator(ss, level=0.8)
    w, a, m, s = ss.grid_weights_, ss.grid_alpha_, ss.grid_mu_, ss.grid_s_

    def cdf(x, j):
        return float(np.sum(w * (a[:, j] * stats.norm.cdf((x - m[:, j]) / np.sqrt(s[:, j]))
                                 + (1 - a[:, j]) * (x >= 0))))

    for j in range(5):
        assert cdf(disp.lower[j], j) >= 0.1 - 1e-9 and cdf(disp.lower[j] - 1e-6, j) < 0.1
        assert cdf(disp.upper[j], j) >= 0.9 - 1e-9 and cdf(disp.upper[j] - 1e-6, j) < 0.9
    assert disp.lower[0] > 0  # the strong effect excludes 0 ...
    assert disp.lower[1] <= 0 <= disp.upper[1]  # ... a null one does not
    lower, upper = _interval_ends(disp)
    np.testing.assert_allclose(lower, disp.lower)
    np.testing.assert_allclose(upper, disp.upper)
    np.testing.assert_allclose(disp.points_.get_xdata(), ss.coef_)
    with pytest.raises(ValueError, match="interval"):
        CoefficientDisplay.from_estimator(ss, interval="normal")


def test_inclusion_probabilities_bars(regression_data):
    X, y = regression_data
    ss = SpikeSlabRegression(random_state=0).fit(X, y)
    ax = plot_inclusion_probabilities(ss, sort=True)
    bars = ax.containers[0]
    order = np.argsort(-ss.pip_, kind="stable")
    np.testing.assert_allclose([b.get_height() for b in bars], ss.pip_[order])
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"x{j}" for j in order]
    assert ax.get_ylabel() == "posterior inclusion probability"
    assert ax.get_ylim() == (0.0, 1.0)


def test_regression_bad_input(regression_data, lda_fit):
    X, y = regression_data
    reg = VBLinearRegression().fit(X, y)
    with pytest.raises(ValueError, match="feature_names has 2 entries but the estimator has 5"):
        CoefficientDisplay.from_estimator(reg, feature_names=["a", "b"])
    with pytest.raises(ValueError, match="level"):
        CoefficientDisplay.from_estimator(reg, level=1.0)
    with pytest.raises(NotFittedError):
        CoefficientDisplay.from_estimator(VBLinearRegression())
    with pytest.raises(TypeError, match="VBLinearRegression"):
        CoefficientDisplay.from_estimator(lda_fit[0])
    with pytest.raises(TypeError, match="SpikeSlabRegression"):
        plot_inclusion_probabilities(reg)
    with pytest.raises(NotFittedError):
        plot_inclusion_probabilities(SpikeSlabRegression())


# --------------------------------------------------------------------------
# pyLDAvis
# --------------------------------------------------------------------------


def test_pyldavis_data_arrays(lda_fit):
    lda, X, vocab = lda_fit
    data = pyldavis_data(lda, X, vocab)
    assert set(data) == {"topic_term_dists", "doc_topic_dists", "doc_lengths", "vocab",
                         "term_frequency"}
    np.testing.assert_allclose(data["topic_term_dists"].sum(axis=1), 1.0)
    np.testing.assert_allclose(data["doc_topic_dists"], lda.transform(X))
    np.testing.assert_allclose(data["doc_topic_dists"].sum(axis=1), 1.0)
    np.testing.assert_array_equal(data["doc_lengths"], X.sum(axis=1).A1)
    np.testing.assert_array_equal(data["term_frequency"], X.sum(axis=0).A1)
    assert data["vocab"] == vocab
    assert data["topic_term_dists"].shape == (3, 30)
    with pytest.raises(ValueError, match="vocabulary has 31 words"):
        pyldavis_data(lda, X, vocab + ["extra"])
    with pytest.raises(NotFittedError):
        pyldavis_data(LatentDirichletAllocation(), X, vocab)


def test_pyldavis_prepare_end_to_end(lda_fit):
    pyLDAvis = pytest.importorskip("pyLDAvis", reason="pyLDAvis is not installed "
                                   "(optional: pip install pyLDAvis==3.4.1)")
    lda, X, vocab = lda_fit
    prepared = pyLDAvis.prepare(**pyldavis_data(lda, X, vocab), n_jobs=1, sort_topics=False)
    assert len(prepared.topic_coordinates) == 3
    assert set(prepared.topic_info["Term"]) <= set(vocab)
    # pyLDAvis's topic sizes are the token shares it computes from our arrays
    data = pyldavis_data(lda, X, vocab)
    share = (data["doc_topic_dists"] * data["doc_lengths"][:, None]).sum(axis=0)
    np.testing.assert_allclose(prepared.topic_coordinates.sort_index()["Freq"].to_numpy(),
                               100 * share / share.sum(), rtol=1e-6)
    assert "<div" in pyLDAvis.prepared_data_to_html(prepared)


# --------------------------------------------------------------------------
# The README's example
# --------------------------------------------------------------------------


def test_readme_plots_example_runs(tmp_path, monkeypatch):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Plots (`fastcavi.plotting`)"):]
    code = section[section.index("```python\n") + 10:section.index("\n```\n")]
    try:
        import pyLDAvis  # noqa: F401
    except ImportError:  # the rest of the example still runs
        code = code[:code.index("# pyLDAvis:")]
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md (Plots)", "exec"), {"__name__": "readme"})
    assert len(plt.get_fignums()) == 7
    if "pyLDAvis.save_html" in code:
        assert (tmp_path / "lda.html").stat().st_size > 0
