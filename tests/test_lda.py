"""LatentDirichletAllocation: agreement with scikit-learn, CAVI monotonicity,
scikit-learn API contracts, bad input, determinism and ground-truth recovery."""

import copy
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment
from sklearn.decomposition import LatentDirichletAllocation as SkLDA
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

import fastcavi.lda.lda_reference as reference
from fastcavi import LatentDirichletAllocation
from fastcavi.kernels import doc_chunks
from fastcavi.models.lda import update_dirichlet_prior

from conftest import (BACKENDS, FAST_BACKENDS, N_JOBS, assert_state_equal, fitted_state,
                      require_backend, require_threads)


def lda_corpus(n_docs=150, n_words=60, n_topics=4, doc_len=60, alpha=0.2, eta=0.1, seed=0):
    """Documents drawn from the LDA generative model; returns (X csr float64, beta)."""
    rng = np.random.default_rng(seed)
    beta = rng.dirichlet(np.full(n_words, eta), size=n_topics)
    theta = rng.dirichlet(np.full(n_topics, alpha), size=n_docs)
    lengths = rng.poisson(doc_len, size=n_docs)
    lengths[:3] = [0, 1, 2]  # an empty, a one-token and a two-token document
    X = np.zeros((n_docs, n_words))
    for d in range(n_docs):
        X[d] = rng.multinomial(lengths[d], theta[d] @ beta)
    return sp.csr_matrix(X), beta


@pytest.fixture(scope="module")
def newsgroups_train(newsgroups_dir):
    return sp.load_npz(newsgroups_dir / "train_counts.npz").astype(np.float64)


@pytest.fixture(scope="module")
def corpus():
    return lda_corpus()[0]


def sklearn_psi(x):
    """Port of the digamma approximation scikit-learn's LDA uses internally
    (recurrence to x >= 6, asymptotic series to x^-6; error ~2.5e-9)."""
    x = np.array(x, dtype=np.float64, copy=True)
    out = np.zeros_like(x)
    tiny = x <= 1e-6
    out[tiny] = -0.5772156649015329 - 1.0 / x[tiny]
    m = ~tiny & (x < 6)
    while m.any():
        out[m] -= 1.0 / x[m]
        x[m] += 1.0
        m = ~tiny & (x < 6)
    r = 1.0 / x
    series = np.log(x) - 0.5 * r
    r = r * r
    series -= r * ((1.0 / 12) - r * ((1.0 / 120) - r * (1.0 / 252)))
    return np.where(tiny, out, out + series)


# ----------------------------------------------------------------- agreement
@pytest.mark.parametrize("learning_method", ["batch", "online"])
def test_reproduces_sklearn_iterates_exactly(monkeypatch, corpus, learning_method):
    """With scikit-learn's own digamma approximation swapped into the NumPy
    reference, e_step_init="random" follows scikit-learn's iterates to rounding:
    same random draws in the same order, same update order and stopping rule."""
    monkeypatch.setattr(reference, "digamma", sklearn_psi)
    kw = dict(n_components=5, max_iter=4, random_state=0, learning_method=learning_method,
              batch_size=40, total_samples=300)
    sk = SkLDA(**kw).fit(corpus)
    fc = LatentDirichletAllocation(**kw, backend="numpy", e_step_init="random").fit(corpus)
    np.testing.assert_allclose(fc.components_, sk.components_, rtol=1e-9)
    np.testing.assert_allclose(fc.bound_, sk.bound_, rtol=1e-9)
    assert fc.n_iter_ == sk.n_iter_ and fc.n_batch_iter_ == sk.n_batch_iter_


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("learning_method", ["batch", "online"])
def test_agrees_with_sklearn(corpus, backend, learning_method):
    """With the accurate digamma (1e-13 vs scipy) results differ from
    scikit-learn's only by its digamma's truncation error (~2.5e-9 absolute),
    which the fixed-point iterations of the E-step amplify on a few small
    entries: perplexity and score agree to 1e-6 relative, components_ to 1e-6
    relative on the entries that carry the topics (>= 1 expected count) and to
    1e-6 of the largest entry everywhere."""
    require_backend(backend)
    kw = dict(n_components=5, max_iter=5, random_state=1, learning_method=learning_method,
              batch_size=40, total_samples=300, n_jobs=1)
    sk = SkLDA(**kw).fit(corpus)
    fc = LatentDirichletAllocation(**kw, backend=backend, e_step_init="random").fit(corpus)
    big = sk.components_ >= 1
    np.testing.assert_allclose(fc.components_[big], sk.components_[big], rtol=1e-6)
    np.testing.assert_allclose(fc.components_, sk.components_, rtol=0,
                               atol=1e-6 * sk.components_.max())
    np.testing.assert_allclose(fc.bound_, sk.bound_, rtol=1e-6)
    test = corpus[:50]
    np.testing.assert_allclose(fc.perplexity(test), sk.perplexity(test), rtol=1e-6)
    np.testing.assert_allclose(fc.score(test), sk.score(test), rtol=1e-6)
    np.testing.assert_allclose(fc.transform(test), sk.transform(test), atol=1e-6)
    sk.partial_fit(corpus[:60])
    fc.partial_fit(corpus[:60])
    np.testing.assert_allclose(fc.components_, sk.components_, rtol=0,
                               atol=1e-6 * sk.components_.max())


def test_perplexity_stopping_rule_as_sklearn(corpus):
    kw = dict(n_components=4, max_iter=30, random_state=0, evaluate_every=2, perp_tol=5.0)
    sk = SkLDA(**kw).fit(corpus)
    fc = LatentDirichletAllocation(**kw).fit(corpus)
    assert 0 < sk.n_iter_ < 30
    assert fc.n_iter_ == sk.n_iter_
    np.testing.assert_allclose(fc.bound_, sk.bound_, rtol=1e-6)


def test_warm_first_pass_is_sklearn_pass(corpus):
    """The warm mode draws the first gamma as scikit-learn does: one pass is the same."""
    sk = SkLDA(n_components=4, max_iter=1, random_state=3).fit(corpus)
    fc = LatentDirichletAllocation(n_components=4, max_iter=1, random_state=3,
                                   e_step_init="warm").fit(corpus)
    np.testing.assert_allclose(fc.components_, sk.components_, rtol=0,
                               atol=1e-6 * sk.components_.max())


def test_defaults_follow_sklearn(corpus):
    """Default parameters give scikit-learn's model (its iterates, to digamma accuracy)."""
    sk = SkLDA(n_components=4, random_state=3).fit(corpus)
    fc = LatentDirichletAllocation(n_components=4, random_state=3).fit(corpus)
    np.testing.assert_allclose(fc.bound_, sk.bound_, rtol=1e-6)
    np.testing.assert_allclose(fc.components_, sk.components_, rtol=0,
                               atol=1e-6 * sk.components_.max())


def test_agrees_with_sklearn_on_20newsgroups(newsgroups_train):
    X = newsgroups_train[:400]
    X = X[:, np.asarray(X.sum(axis=0)).ravel() > 0]
    kw = dict(n_components=8, max_iter=3, random_state=0)
    sk = SkLDA(**kw).fit(X)
    fc = LatentDirichletAllocation(**kw, e_step_init="random").fit(X)
    np.testing.assert_allclose(fc.bound_, sk.bound_, rtol=1e-6)
    np.testing.assert_allclose(fc.components_, sk.components_, rtol=0,
                               atol=1e-6 * sk.components_.max())


# ------------------------------------------------------------ CAVI behaviour
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("learn_prior", [False, "symmetric", "asymmetric"])
def test_elbo_never_decreases(corpus, backend, learn_prior):
    require_backend(backend)
    lda = LatentDirichletAllocation(n_components=5, max_iter=12, random_state=0,
                                    backend=backend, learn_doc_topic_prior=learn_prior,
                                    e_step_init="warm")
    lda.fit(corpus)
    trace = np.array(lda.elbo_history_ + [lda.elbo_])
    assert len(trace) == 13 and np.all(np.isfinite(trace))
    assert np.all(np.diff(trace) >= -1e-10 * np.abs(trace[1:])), np.diff(trace)
    assert trace[-1] > trace[0]  # it actually moved


def full_elbo(X, gamma, lam, alpha, eta):
    """The LDA ELBO of Blei et al. (2003, eq. 15 with beta random, Hoffman et al. 2010
    eq. 3), written out term by term with phi at its optimum, independently of the kernels."""
    from scipy.special import digamma, gammaln

    X = X.toarray()
    K, V = lam.shape
    Elogtheta = digamma(gamma) - digamma(gamma.sum(1, keepdims=True))
    Elogbeta = digamma(lam) - digamma(lam.sum(1, keepdims=True))
    elbo = 0.0
    for d in range(X.shape[0]):
        logits = Elogtheta[d][:, None] + Elogbeta  # (K, V)
        phi = np.exp(logits - logits.max(0))
        phi /= phi.sum(0)
        # E[log p(z|theta)] + E[log p(w|z,beta)] - E[log q(z)]
        safe = np.where(phi > 0, phi, 1.0)
        elbo += np.sum(X[d] * phi * (Elogtheta[d][:, None] + Elogbeta - np.log(safe)))
        # E[log p(theta|alpha)] - E[log q(theta|gamma)]
        elbo += gammaln(alpha.sum()) - gammaln(alpha).sum() + np.dot(alpha - 1, Elogtheta[d])
        elbo -= gammaln(gamma[d].sum()) - gammaln(gamma[d]).sum() + np.dot(gamma[d] - 1,
                                                                          Elogtheta[d])
    elbo += K * (gammaln(V * eta) - V * gammaln(eta)) + np.sum((eta - 1) * Elogbeta)
    elbo -= np.sum(gammaln(lam.sum(1)) - gammaln(lam).sum(1) + ((lam - 1) * Elogbeta).sum(1))
    return elbo


@pytest.mark.parametrize("backend", BACKENDS)
def test_kernel_elbo_is_the_lda_elbo(corpus, backend):
    from fastcavi.models.lda import CsrCorpus, e_step

    kern = require_backend(backend)

    rng = np.random.default_rng(5)
    K, V = 3, corpus.shape[1]
    lam = rng.gamma(2.0, 1.0, (K, V))
    gamma = rng.gamma(2.0, 1.0, (corpus.shape[0], K))
    alpha, eta = np.array([0.1, 0.3, 0.2]), 0.05
    ebeta = np.empty((V, K))
    topic_bound = kern.exp_dirichlet_expectation_T(lam, eta, ebeta, True, 1)
    g = gamma.copy()
    res = e_step(kern, CsrCorpus.from_csr(corpus), ebeta, alpha, g, 0, 0.0, 1, False, eps=0.0)
    np.testing.assert_array_equal(g, gamma)  # max_iter=0 leaves gamma alone
    np.testing.assert_allclose(res.doc_bound.sum() + topic_bound,
                               full_elbo(corpus, gamma, lam, alpha, eta), rtol=1e-10)


def test_score_is_elbo_of_transform(corpus):
    lda = LatentDirichletAllocation(n_components=3, max_iter=3, random_state=0).fit(corpus)
    gamma = lda.transform(corpus, normalize=False)
    expect = full_elbo(corpus, gamma, lda.components_, np.full(3, lda.doc_topic_prior_),
                       lda.topic_word_prior_)
    np.testing.assert_allclose(lda.score(corpus), expect, rtol=1e-10)


def test_recovers_ground_truth_topics():
    X, beta = lda_corpus(n_docs=600, n_words=40, n_topics=3, doc_len=120, alpha=0.3,
                         eta=0.05, seed=4)
    lda = LatentDirichletAllocation(n_components=3, max_iter=60, random_state=0,
                                    topic_word_prior=0.05, doc_topic_prior=0.3).fit(X)
    est = lda.components_ / lda.components_.sum(axis=1, keepdims=True)
    cost = np.abs(est[:, None, :] - beta[None, :, :]).sum(axis=2)  # L1 distances
    rows, cols = linear_sum_assignment(cost)
    assert cost[rows, cols].max() < 0.15, cost[rows, cols]


@pytest.mark.parametrize("symmetric", [True, False])
def test_dirichlet_prior_update_is_the_maximiser(symmetric):
    from scipy.optimize import minimize
    from scipy.special import gammaln

    rng = np.random.default_rng(0)
    gamma = rng.gamma(2.0, 1.0, size=(300, 4)) + 0.05
    from fastcavi.models.lda import sum_elogtheta

    S, N = sum_elogtheta(gamma), gamma.shape[0]
    alpha = update_dirichlet_prior(np.full(4, 0.5), S, N, symmetric=symmetric)

    def negf(log_a):
        a = np.exp(log_a) if not symmetric else np.full(4, np.exp(log_a[0]))
        return -(N * (gammaln(a.sum()) - gammaln(a).sum()) + np.dot(a - 1, S))

    x0 = np.zeros(1 if symmetric else 4)
    best = minimize(negf, x0, method="Nelder-Mead", options=dict(xatol=1e-10, fatol=1e-12,
                                                                 maxiter=20000))
    expect = np.exp(best.x) if not symmetric else np.full(4, np.exp(best.x[0]))
    np.testing.assert_allclose(alpha, expect, rtol=1e-4)
    if symmetric:
        assert np.all(alpha == alpha[0])


def test_learned_prior_attribute_shapes(corpus):
    sym = LatentDirichletAllocation(n_components=3, max_iter=3, random_state=0,
                                    learn_doc_topic_prior="symmetric").fit(corpus)
    asym = LatentDirichletAllocation(n_components=3, max_iter=3, random_state=0,
                                     learn_doc_topic_prior="asymmetric").fit(corpus)
    assert isinstance(sym.doc_topic_prior_, float) and sym.doc_topic_prior_ != 1 / 3
    assert asym.doc_topic_prior_.shape == (3,)


# ------------------------------------------------------ scikit-learn contracts
@parametrize_with_checks([LatentDirichletAllocation(backend=b) for b in FAST_BACKENDS])
def test_sklearn_estimator_checks(estimator, check):
    require_backend(estimator.backend)
    check(estimator)


def test_pipeline_with_countvectorizer():
    docs = ["the cat sat on the mat", "dogs and cats are pets", "stocks fell on monday",
            "the market rallied as stocks rose", "my dog chased the cat", "bond yields rose"] * 5
    pipe = make_pipeline(CountVectorizer(), LatentDirichletAllocation(n_components=2,
                                                                      random_state=0))
    theta = pipe.fit_transform(docs)
    assert theta.shape == (30, 2)
    np.testing.assert_allclose(theta.sum(axis=1), 1.0)
    names = pipe.get_feature_names_out()
    assert list(names) == ["latentdirichletallocation0", "latentdirichletallocation1"]
    lda = pipe[-1]
    words = lda.top_words(3, vocabulary=pipe[0].get_feature_names_out())
    assert len(words) == 2 and all(len(w) == 3 for w in words)


def test_pickle_roundtrip(corpus):
    lda = LatentDirichletAllocation(n_components=3, max_iter=3, random_state=0).fit(corpus)
    clone = pickle.loads(pickle.dumps(lda))
    np.testing.assert_array_equal(clone.transform(corpus), lda.transform(corpus))
    clone.partial_fit(corpus[:20])  # continues learning after unpickling
    assert clone.n_batch_iter_ == lda.n_batch_iter_ + 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(corpus, dtype):
    lda = LatentDirichletAllocation(n_components=3, max_iter=2, random_state=0)
    theta = lda.fit_transform(corpus.astype(dtype))
    assert lda.components_.dtype == dtype and theta.dtype == dtype
    assert lda.exp_dirichlet_component_.dtype == dtype


def test_float32_close_to_float64(corpus):
    a = LatentDirichletAllocation(n_components=4, max_iter=5, random_state=0)
    b = LatentDirichletAllocation(n_components=4, max_iter=5, random_state=0)
    a.fit(corpus.astype(np.float32))
    b.fit(corpus)
    np.testing.assert_allclose(a.bound_, b.bound_, rtol=1e-3)


def test_transform_unnormalized_and_top_words(corpus):
    lda = LatentDirichletAllocation(n_components=3, max_iter=2, random_state=0).fit(corpus)
    gamma = lda.transform(corpus, normalize=False)
    assert np.all(gamma >= lda.doc_topic_prior_ - 1e-12)
    np.testing.assert_allclose(gamma / gamma.sum(1, keepdims=True), lda.transform(corpus))
    top = lda.top_words(5)
    best = np.argmax(lda.components_[0])
    assert top[0][0] == str(best)
    with pytest.raises(ValueError, match="n_top_words"):
        lda.top_words(0)
    with pytest.raises(ValueError, match="vocabulary"):
        lda.top_words(3, vocabulary=["a", "b"])


# ----------------------------------------------------------------- bad input
BAD_FIT = [
    (dict(), np.array([[1.0, -1.0], [0.0, 2.0]]), ValueError, "Negative values"),
    (dict(), np.array([[1.0, np.nan], [0.0, 2.0]]), ValueError, "NaN"),
    (dict(), np.array([[1.0, np.inf], [0.0, 2.0]]), ValueError, "infinity"),
    (dict(), np.zeros((0, 3)), ValueError, "0 sample"),
    (dict(), np.zeros((3, 0)), ValueError, "0 feature"),
    (dict(), np.array([["a", "b"]]), ValueError, "convert|dtype|numeric"),
    (dict(n_components=0), np.ones((3, 3)), ValueError, "n_components"),
    (dict(n_components=2.5), np.ones((3, 3)), ValueError, "n_components"),
    (dict(doc_topic_prior=0.0), np.ones((3, 3)), ValueError, "doc_topic_prior"),
    (dict(doc_topic_prior=[0.1, 0.2, 0.3]), np.ones((3, 3)), ValueError, "doc_topic_prior"),
    (dict(doc_topic_prior=[0.1, -0.2]), np.ones((3, 3)), ValueError, "doc_topic_prior"),
    (dict(topic_word_prior=-1.0), np.ones((3, 3)), ValueError, "topic_word_prior"),
    (dict(learning_method="stochastic"), np.ones((3, 3)), ValueError, "learning_method"),
    (dict(backend="cuda"), np.ones((3, 3)), ValueError, "backend"),
    (dict(e_step_init="zeros"), np.ones((3, 3)), ValueError, "e_step_init"),
    (dict(learn_doc_topic_prior="auto"), np.ones((3, 3)), ValueError, "learn_doc_topic_prior"),
    (dict(batch_size=0), np.ones((3, 3)), ValueError, "batch_size"),
    (dict(max_iter=-1), np.ones((3, 3)), ValueError, "max_iter"),
]


@pytest.mark.parametrize("params, X, error, match", BAD_FIT)
def test_bad_input_is_rejected_clearly(params, X, error, match):
    with pytest.raises(error, match=match):
        LatentDirichletAllocation(n_components=params.pop("n_components", 2), **params).fit(X)


def test_wrong_number_of_features_after_fit(corpus):
    lda = LatentDirichletAllocation(n_components=2, max_iter=1, random_state=0).fit(corpus)
    with pytest.raises(ValueError, match="features"):
        lda.transform(corpus[:, :10])
    with pytest.raises(ValueError, match="features|dimensions"):
        lda.partial_fit(corpus[:, :10])


def test_interrupted_fit_leaves_previous_model(corpus, monkeypatch):
    import fastcavi.lda.model as lda_module  # where the model's steps look up the E-step

    lda = LatentDirichletAllocation(n_components=3, max_iter=2, random_state=0).fit(corpus)
    before = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(lda).items()
              if k.endswith("_") and not k.startswith("_")}
    calls = {"n": 0}
    real = lda_module.e_step

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(lda_module, "e_step", flaky)
    with pytest.raises(KeyboardInterrupt):
        lda.set_params(max_iter=5, random_state=1).fit(corpus[:100])
    for key, value in before.items():
        now = getattr(lda, key)
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(now, value)
        else:
            assert now == value, key


# --------------------------------------------------------------- determinism
@pytest.fixture(scope="module")
def thread_corpus():
    """Big enough that every kernel splits its work differently with n_jobs: 1,100
    words are three of ``exp_dirichlet_expectation_T``'s 512-word blocks (its bound
    is summed per block), and 200 documents fill the 8 (1 thread) to 24 (3 threads)
    chunks of ``doc_chunks`` that threads take dynamically."""
    X = lda_corpus(n_docs=200, n_words=1100, n_topics=5, doc_len=25, seed=3)[0]
    assert X.shape[1] > 2 * 512 and len(doc_chunks(X.indptr, 3 * 8)) - 1 == 24
    return X


@pytest.mark.parametrize("learning_method, dtype", [("batch", np.float64), ("online", np.float64),
                                                   ("batch", np.float32)])
@pytest.mark.parametrize("backend", BACKENDS)
def test_same_seed_is_bit_identical_whatever_n_jobs(corpus, thread_corpus, backend,
                                                   learning_method, dtype):
    """README: "results for a fixed seed and backend are bit-identical from run to run
    and do not depend on n_jobs". Every fitted attribute (vars(), private ones
    included: components_, exp_dirichlet_component_, the learned prior, elbo_,
    elbo_history_, bound_, n_iter_, n_batch_iter_, the random state) is equal, with
    assert_array_equal for arrays and == for scalars, for n_jobs 1, 2, -1 and 3
    (a third chunking of the documents; separate runs, so run-to-run equality is
    tested too), and so are transform, score and perplexity, and (online) a
    partial_fit after the fit. The NumPy reference
    ignores n_threads, so it runs on a smaller corpus: only the driver is tested."""
    require_threads(backend, "lda")
    X = (corpus[:60] if backend == "numpy" else thread_corpus).astype(dtype)
    batch = X.shape[0] // 3  # online: three minibatches, each over its own words
    kw = dict(n_components=5, max_iter=2, random_state=7, backend=backend,
              learning_method=learning_method, batch_size=batch, total_samples=X.shape[0],
              evaluate_every=2, perp_tol=0.0, learn_doc_topic_prior="asymmetric")
    fits = {}
    for n_jobs in N_JOBS + (3,):
        lda = LatentDirichletAllocation(n_jobs=n_jobs, **kw).fit(X)
        state = copy.deepcopy(fitted_state(lda))
        outputs = [lda.transform(X), lda.score(X), lda.perplexity(X)]
        if learning_method == "online":
            lda.partial_fit(X[:batch])
        fits[n_jobs] = (state, outputs, fitted_state(lda))
    ref = fits.pop(1)
    assert ref[0]["n_iter_"] == 2 and ref[0]["components_"].dtype == dtype
    for n_jobs, fit in fits.items():
        for what, a, b in zip(["vars() after fit", "[transform, score, perplexity]",
                               "vars() after partial_fit"], ref, fit):
            assert_state_equal(a, b, f"n_jobs={n_jobs}: {what}")


def test_backends_agree(corpus):
    for b in BACKENDS:
        require_backend(b)
    fits = {b: LatentDirichletAllocation(n_components=4, max_iter=4, random_state=2,
                                         backend=b).fit(corpus) for b in BACKENDS}
    ref = fits["numpy"]
    for b, fit in fits.items():
        np.testing.assert_allclose(fit.components_, ref.components_, rtol=1e-8, err_msg=b)
        assert fit.backend_ == b
