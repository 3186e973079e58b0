"""Online LDA on a minibatch's own vocabulary: the aggregated-Dirichlet expectations
equal the full ones, and online fitting still follows scikit-learn's iterates,
including minibatches whose documents use few or no words."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.decomposition import LatentDirichletAllocation as SkLDA

from fastcavi import LatentDirichletAllocation
from fastcavi.models.lda import CsrCorpus, exp_topic_word_columns

from conftest import BACKENDS, require_backend


def full_ebeta(kernels, lam):
    out = np.empty(lam.shape[::-1], dtype=lam.dtype)
    kernels.exp_dirichlet_expectation_T(lam, 0.1, out, False, 1)
    return out


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_used", [0, 1, 17, 39, 40])
def test_columns_equal_full_expectation(backend, dtype, n_used):
    kernels = require_backend(backend)
    rng = np.random.default_rng(n_used)
    lam = rng.gamma(0.5, 3.0, size=(7, 40)).astype(dtype) + dtype(1e-3)
    words = np.sort(rng.choice(40, size=n_used, replace=False)).astype(np.int64)
    got = exp_topic_word_columns(kernels, lam, words, 1)
    assert got.shape == (n_used, 7) and got.dtype == dtype and got.flags.c_contiguous
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(got, full_ebeta(kernels, lam)[words], rtol=rtol)


def test_restrict_vocabulary_renumbers_columns():
    X = sp.csr_matrix(np.array([[0, 2, 0, 0, 1], [0, 0, 0, 0, 0], [3, 0, 0, 0, 4]], float))
    words, local = CsrCorpus.from_csr(X).restrict_vocabulary()
    np.testing.assert_array_equal(words, [0, 1, 4])
    assert local.n_words == 3 and local.n_docs == 3
    back = sp.csr_matrix((local.data, local.indices, local.indptr), shape=(3, 3)).toarray()
    np.testing.assert_array_equal(back, X.toarray()[:, words])


def corpus_with_rare_words(seed=0):
    """Documents over 80 words where each minibatch of 8 sees only part of the
    vocabulary, and one minibatch is made of empty documents."""
    rng = np.random.default_rng(seed)
    X = np.zeros((48, 80))
    for d in range(48):
        block = (d // 8) % 4
        cols = rng.choice(np.arange(block * 20, block * 20 + 20), size=6, replace=False)
        X[d, cols] = rng.integers(1, 5, size=6)
    X[16:24] = 0.0  # a whole minibatch of empty documents
    return sp.csr_matrix(X)


@pytest.mark.parametrize("backend", BACKENDS)
def test_online_fit_and_partial_fit_follow_sklearn(backend):
    kernels = require_backend(backend)
    X = corpus_with_rare_words()
    kw = dict(n_components=5, learning_method="online", batch_size=8, max_iter=3,
              random_state=1)
    sk = SkLDA(**kw).fit(X)
    fc = LatentDirichletAllocation(**kw, backend=backend).fit(X)
    scale = sk.components_.max()
    np.testing.assert_allclose(fc.components_, sk.components_, rtol=0, atol=1e-6 * scale)
    np.testing.assert_allclose(fc.exp_dirichlet_component_, sk.exp_dirichlet_component_,
                               rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(fc.bound_, sk.bound_, rtol=1e-6)
    sk.partial_fit(X[8:32])
    fc.partial_fit(X[8:32])
    scale = sk.components_.max()  # total_samples=1e6 scales the statistics up
    np.testing.assert_allclose(fc.components_, sk.components_, rtol=0, atol=1e-6 * scale)
    # the published expectations are those of the final lambda, over all words
    np.testing.assert_allclose(fc.exp_dirichlet_component_,
                               full_ebeta(kernels, fc.components_).T, rtol=1e-12)
