"""Document-completion perplexity (Wallach et al. 2009) and the token split."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.decomposition import LatentDirichletAllocation as SkLDA

from fastcavi import LatentDirichletAllocation
from fastcavi.metrics import (
    completion_perplexity,
    document_completion_perplexity,
    split_document_tokens,
)


def counts(seed=0, n_docs=40, n_words=25):
    rng = np.random.default_rng(seed)
    X = rng.poisson(0.8, size=(n_docs, n_words)).astype(float)
    X[0] = 0
    X[1] = 0
    X[1, 3] = 1  # a one-token document
    return sp.csr_matrix(X)


def test_split_partitions_every_document():
    X = counts()
    obs, held = split_document_tokens(X, 0.3, random_state=1)
    assert (obs + held - X).nnz == 0 or np.all((obs + held - X).data == 0)
    lengths = np.asarray(X.sum(1)).ravel()
    np.testing.assert_array_equal(np.asarray(held.sum(1)).ravel(), np.floor(0.3 * lengths))
    # seeded: same split twice, different seed gives a different split
    obs2, _ = split_document_tokens(X, 0.3, random_state=1)
    obs3, _ = split_document_tokens(X, 0.3, random_state=2)
    assert (obs2 != obs).nnz == 0 and (obs3 != obs).nnz > 0


def test_completion_perplexity_matches_dense_formula():
    rng = np.random.default_rng(3)
    X = counts(seed=3)
    theta = rng.dirichlet(np.ones(4), size=X.shape[0]) * 7.0  # unnormalised is fine
    beta = rng.gamma(1.0, 1.0, size=(4, X.shape[1]))
    Xd = X.toarray()
    p = (theta / theta.sum(1, keepdims=True)) @ (beta / beta.sum(1, keepdims=True))
    expect = np.exp(-np.sum(Xd * np.log(p)) / Xd.sum())
    np.testing.assert_allclose(completion_perplexity(theta, beta, X), expect, rtol=1e-12)


def test_uniform_model_has_vocabulary_size_perplexity():
    X = counts()
    K, V = 3, X.shape[1]
    value = completion_perplexity(np.ones((X.shape[0], K)), np.ones((K, V)), X)
    np.testing.assert_allclose(value, V, rtol=1e-12)


def test_fitted_model_beats_uniform_and_works_for_sklearn():
    rng = np.random.default_rng(0)
    beta = rng.dirichlet(np.full(30, 0.1), size=3)
    theta = rng.dirichlet(np.full(3, 0.2), size=300)
    X = sp.csr_matrix(np.array([rng.multinomial(80, t @ beta) for t in theta], dtype=float))
    train, test = X[:250], X[250:]
    ours = LatentDirichletAllocation(n_components=3, max_iter=20, random_state=0).fit(train)
    theirs = SkLDA(n_components=3, max_iter=20, random_state=0).fit(train)
    a = document_completion_perplexity(ours, test, random_state=0)
    b = document_completion_perplexity(theirs, test, random_state=0)
    assert a < 0.8 * 30  # far better than the uniform model's perplexity of V
    np.testing.assert_allclose(a, b, rtol=1e-4)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda X: split_document_tokens(X, 0.0), "held_out_fraction"),
        (lambda X: split_document_tokens(X, 1.0), "held_out_fraction"),
        (lambda X: split_document_tokens(X * 0.5, 0.5), "whole-number"),
        (lambda X: split_document_tokens(-X, 0.5), "non-negative"),
        (lambda X: completion_perplexity(np.ones((3, 2)), np.ones((2, 25)), X), "shape"),
        (lambda X: completion_perplexity(np.ones((40, 2)), np.ones((3, 25)), X), "topics"),
        (lambda X: completion_perplexity(np.zeros((40, 2)), np.ones((2, 25)), X), "doc_topic"),
        (lambda X: completion_perplexity(np.ones((40, 2)), np.ones((2, 25)), X * 0), "no tokens"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call(counts())
