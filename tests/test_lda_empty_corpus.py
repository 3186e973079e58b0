"""LatentDirichletAllocation on documents without words, against scikit-learn.

An all-zero count matrix has no tokens, so the per-word bound is 0 / 0: as in
scikit-learn, fitting works (the topics are the prior after a batch pass and
move toward it online) and the perplexity is NaN when lambda is the prior,
inf otherwise, with NumPy's RuntimeWarning. It must not depend on the backend,
whose rounding of the exactly-zero bound has either sign.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.decomposition import LatentDirichletAllocation as SkLDA

from fastcavi import LatentDirichletAllocation

from conftest import BACKENDS, require_backend
# 0 / 0 and x / 0 in the perplexity warn in scikit-learn and here alike (and
# scikit-learn's stopping rule computes inf - inf)
pytestmark = pytest.mark.filterwarnings("ignore:.*encountered in scalar:RuntimeWarning")

ZERO = np.zeros((6, 5))


def assert_same_model(fc, sk, X):
    """Equal to rounding; the ELBO to 1e-6 (scikit-learn's digamma truncation, as in
    test_lda.py::test_agrees_with_sklearn)."""
    np.testing.assert_allclose(fc.components_, sk.components_, rtol=1e-9)
    np.testing.assert_allclose(fc.exp_dirichlet_component_, sk.exp_dirichlet_component_,
                               rtol=1e-9)
    np.testing.assert_equal(fc.bound_, sk.bound_)  # NaN == NaN, inf == inf
    np.testing.assert_equal(fc.perplexity(X), sk.perplexity(X))
    np.testing.assert_allclose(fc.score(X), sk.score(X), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(fc.transform(X), sk.transform(X), rtol=1e-12)
    assert fc.n_iter_ == sk.n_iter_


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("learning_method, expected_bound", [("batch", np.nan),
                                                             ("online", np.inf)])
@pytest.mark.parametrize("to_container", [np.asarray, sp.csr_matrix])
def test_all_zero_corpus_fits_as_sklearn(backend, learning_method, expected_bound,
                                         to_container):
    require_backend(backend)
    X = to_container(ZERO)
    kw = dict(n_components=3, max_iter=4, learning_method=learning_method, batch_size=4,
              evaluate_every=2, random_state=0)
    sk = SkLDA(**kw).fit(X)
    fc = LatentDirichletAllocation(**kw, backend=backend).fit(X)
    np.testing.assert_equal(sk.bound_, expected_bound)  # what the comparison is about
    assert_same_model(fc, sk, X)
    if learning_method == "batch":  # lambda = eta + 0
        np.testing.assert_array_equal(fc.components_, np.full((3, 5), 1.0 / 3))


@pytest.mark.parametrize("backend", BACKENDS)
def test_partial_fit_on_all_zero_corpus_as_sklearn(backend):
    require_backend(backend)
    kw = dict(n_components=3, total_samples=12, batch_size=4, random_state=0)
    sk, fc = SkLDA(**kw), LatentDirichletAllocation(**kw, backend=backend)
    for _ in range(2):
        sk.partial_fit(ZERO)
        fc.partial_fit(ZERO)
    np.testing.assert_allclose(fc.components_, sk.components_, rtol=1e-9)
    for sub_sampling in (False, True):
        np.testing.assert_equal(fc.perplexity(ZERO, sub_sampling=sub_sampling),
                                sk.perplexity(ZERO, sub_sampling=sub_sampling))
    np.testing.assert_allclose(fc.score(ZERO), sk.score(ZERO), rtol=1e-6)


def test_perplexity_of_empty_documents_after_a_real_fit():
    rng = np.random.RandomState(0)
    X = rng.poisson(1.0, size=(30, 5)).astype(float)
    kw = dict(n_components=3, max_iter=3, random_state=0)
    sk, fc = SkLDA(**kw).fit(X), LatentDirichletAllocation(**kw).fit(X)
    assert sk.perplexity(ZERO) == fc.perplexity(ZERO) == np.inf
    np.testing.assert_allclose(fc.score(ZERO), sk.score(ZERO), rtol=1e-6)


def corpus_with_gaps(seed=0):
    """Counts where a third of the documents are empty and a third of the words never occur."""
    rng = np.random.default_rng(seed)
    X = rng.poisson(2.0, size=(30, 15)).astype(float)
    X[::3] = 0.0
    X[:, [0, 4, 7, 8, 14]] = 0.0
    return sp.csr_matrix(X)


@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_fit_with_empty_documents_and_unused_words_as_sklearn(backend):
    """The online case is test_lda_online.py::test_online_fit_and_partial_fit_follow_sklearn;
    tolerances as in test_lda.py::test_agrees_with_sklearn (digamma truncation in scikit-learn)."""
    require_backend(backend)
    X = corpus_with_gaps()
    kw = dict(n_components=4, max_iter=5, evaluate_every=2, random_state=1)
    sk = SkLDA(**kw).fit(X)
    fc = LatentDirichletAllocation(**kw, backend=backend).fit(X)
    np.testing.assert_allclose(fc.components_, sk.components_, rtol=0,
                               atol=1e-6 * sk.components_.max())
    # a word that never occurs keeps the prior in every topic
    np.testing.assert_array_equal(fc.components_[:, [0, 4, 7, 8, 14]], 0.25)
    np.testing.assert_allclose(fc.bound_, sk.bound_, rtol=1e-6)
    np.testing.assert_allclose(fc.perplexity(X), sk.perplexity(X), rtol=1e-6)
    np.testing.assert_allclose(fc.transform(X), sk.transform(X), atol=1e-6)
    # an empty document's topic proportions are the prior's mean
    np.testing.assert_allclose(fc.transform(X[::3]), 0.25, rtol=1e-12)
    assert fc.n_iter_ == sk.n_iter_
