"""LDA's engine model (fastcavi.lda.model.LDAModel) against the contract of tests/contract.py.

Each contract class runs on every backend (numpy, numba, cython) through
conftest's ``require_backend``. The model there starts gamma from 1 (no random
state) and warm, so its local steps are deterministic and its batch ELBO is
coordinate ascent's, which never decreases:

- ``TestBatchContract``: blocks over the whole vocabulary (batch learning);
- ``TestLearnedPriorContract``: the same with alpha learned (its statistics,
  sum_d E[log theta_d] and the document count, are additive too);
- ``TestMinibatchContract``: blocks over their own words (online learning),
  whose topic-word statistics are :class:`WordColumns`.

The tests after them check what the contract does not: minibatch statistics
against whole-vocabulary ones, scikit-learn's order of the random starts, the
in-place Robbins-Monro step, and that the estimator is the drivers run on this
model (its fits equal run_cavi / run_svi called directly, bit for bit).
"""

import numpy as np
import pytest
import scipy.sparse as sp

from conftest import require_backend
from contract import ModelContract
from fastcavi import LatentDirichletAllocation
from fastcavi.engine import EvaluateEvery, RobbinsMonro, Stats, run_cavi, run_svi
from fastcavi.lda.corpus import CsrCorpus, Minibatch
from fastcavi.lda.model import LDAModel, WordColumns

N_TOPICS, N_WORDS = 4, 30


def counts(seed=0, n_docs=60, n_words=N_WORDS, unused=(5, 17)):
    """A small LDA-like count matrix with two empty documents and some unused words."""
    rng = np.random.RandomState(seed)
    beta = rng.dirichlet(np.full(n_words, 0.2), size=N_TOPICS)
    beta[:, list(unused)] = 0.0
    beta /= beta.sum(axis=1, keepdims=True)
    theta = rng.dirichlet(np.full(N_TOPICS, 0.3), size=n_docs)
    X = np.array([rng.multinomial(rng.randint(10, 50), t @ beta) for t in theta], dtype=float)
    X[[2, 31]] = 0.0
    return sp.csr_matrix(X)


def to_csr(block):
    """The scipy matrix over the whole vocabulary of a CsrCorpus or Minibatch block."""
    if isinstance(block, Minibatch):
        c = block.corpus
        return sp.csr_matrix((c.data, block.words[c.indices], c.indptr),
                             shape=(c.n_docs, block.n_words))
    return sp.csr_matrix((block.data, block.indices, block.indptr),
                         shape=(block.n_docs, block.n_words))


def initial_state(model, n_words=N_WORDS, seed=0):
    lam = np.random.RandomState(seed).gamma(100.0, 0.01, (N_TOPICS, n_words))
    return model.initial_state(lam, eta=0.2, alpha=np.full(N_TOPICS, 0.25))


class _LDAContract(ModelContract):
    backends = ("numpy", "numba", "cython")
    has_svi = True
    max_iter = 15
    reference_rtol = 1e-8
    learn_prior = None
    block = staticmethod(CsrCorpus.from_csr)

    def make_model(self, backend, n_jobs):
        return LDAModel(require_backend(backend), N_TOPICS, n_threads=n_jobs, warm=True,
                        learn_prior=self.learn_prior)

    def data(self):
        X = counts()
        return [self.block(X[:25]), self.block(X[25:47]), self.block(X[47:])]

    def init_global(self, model):
        return initial_state(model)

    def concatenate(self, blocks):
        return self.block(sp.vstack([to_csr(b) for b in blocks], format="csr"))


class TestBatchContract(_LDAContract):
    pass


class TestLearnedPriorContract(_LDAContract):
    learn_prior = "asymmetric"


class TestMinibatchContract(_LDAContract):
    learn_prior = "symmetric"
    block = staticmethod(Minibatch.from_csr)


# ------------------------------------------------------------------ statistics
def test_word_columns_add_as_the_matrices_they_stand_for():
    rng = np.random.default_rng(0)
    a = WordColumns(np.array([1, 4, 6]), rng.random((3, 3)), 8)
    b = WordColumns(np.array([0, 4, 7]), rng.random((3, 3)), 8)
    dense = rng.random((3, 8))
    np.testing.assert_allclose(np.asarray(a + b), a.toarray() + b.toarray(), rtol=1e-15)
    np.testing.assert_array_equal((a + b).words, [0, 1, 4, 6, 7])
    np.testing.assert_allclose(dense + a, dense + a.toarray(), rtol=1e-15)
    np.testing.assert_allclose(a + dense, dense + a.toarray(), rtol=1e-15)
    np.testing.assert_array_equal(np.asarray(a * 2.5), 2.5 * a.toarray())
    total = Stats(sstats=a, doc_bound=1.0) + Stats(sstats=b, doc_bound=2.0)
    assert total.scaled(2.0).allclose(Stats(sstats=2 * (a.toarray() + b.toarray()),
                                            doc_bound=6.0))
    with pytest.raises(ValueError, match="shapes"):
        _ = a + WordColumns(np.array([0]), np.ones((3, 1)), 9)


@pytest.mark.parametrize("backend", ["numpy", "numba", "cython"])
def test_minibatch_statistics_are_the_whole_vocabulary_ones(backend):
    """Over its own words a block gives the statistics it gives over all words.

    exp(E[log beta]) of the used words comes from lambda by Dirichlet
    aggregation, equal to the full computation up to rounding of the topic
    totals; with every word used it is the full computation, bit for bit.
    """
    model = LDAModel(require_backend(backend), N_TOPICS, warm=True, learn_prior="asymmetric")
    g = initial_state(model)
    X = counts()
    for rows in (slice(0, 20), slice(None)):
        full, _ = model.local_step(CsrCorpus.from_csr(X[rows]), g,
                                   np.ones((X[rows].shape[0], N_TOPICS)))
        mb, _ = model.local_step(Minibatch.from_csr(X[rows]), g,
                                 np.ones((X[rows].shape[0], N_TOPICS)))
        assert isinstance(mb["sstats"], WordColumns) and mb["sstats"].words.size < N_WORDS
        assert mb.allclose(full, rtol=1e-10, atol=1e-12)
    dense = sp.csr_matrix(np.ones((6, N_WORDS)))
    full, _ = model.local_step(CsrCorpus.from_csr(dense), g, np.ones((6, N_TOPICS)))
    mb, _ = model.local_step(Minibatch.from_csr(dense), g, np.ones((6, N_TOPICS)))
    np.testing.assert_array_equal(mb["sstats"].values, full["sstats"])
    assert mb["doc_bound"] == full["doc_bound"]


def test_random_starts_are_drawn_in_block_order():
    """gamma's Gamma(100, 1/100) draws, block after block, are the rows of one draw for
    the whole corpus: scikit-learn's order, whatever the blocking."""
    X = counts()
    blocks = [Minibatch.from_csr(X[:25]), Minibatch.from_csr(X[25:])]
    kernels = require_backend("numpy")
    split = LDAModel(kernels, N_TOPICS, random_state=np.random.RandomState(3))
    whole = LDAModel(kernels, N_TOPICS, random_state=np.random.RandomState(3))
    parts = [split.init_local(b, None, None) for b in blocks]
    np.testing.assert_array_equal(np.vstack(parts),
                                  whole.init_local(CsrCorpus.from_csr(X), None, None))
    warm = LDAModel(kernels, N_TOPICS, random_state=np.random.RandomState(3), warm=True)
    assert warm.init_local(blocks[0], None, parts[0]) is parts[0]
    assert split.init_local(blocks[0], None, parts[0]) is not parts[0]


def test_robbins_monro_step_uses_up_an_owned_state_and_copies_a_fitted_one():
    model = LDAModel(require_backend("numpy"), N_TOPICS)
    X = counts()
    block = Minibatch.from_csr(X[:20])
    g = initial_state(model)
    stats, _ = model.local_step(block, g, np.ones((20, N_TOPICS)))
    lam = g.lam
    expect = (1 - 0.3) * lam + 0.3 * 0.2
    expect[:, block.words] += 0.3 * 5.0 * stats["sstats"].values
    published = lam.copy()
    fitted = type(g)(published, g.eta, g.alpha, owns_lam=False)
    new = model.global_step(fitted, stats, scale=5.0, rho=0.3)
    np.testing.assert_array_equal(published, lam)  # a fitted lambda is never written
    np.testing.assert_allclose(new.lam, expect, rtol=1e-14)
    assert new.ebeta is None and new.topic_bound is None  # computed when first needed
    new2 = model.global_step(g, stats, scale=5.0, rho=0.3)
    assert new2.lam is lam and g.lam is None  # in place: g is used up
    np.testing.assert_array_equal(new2.lam, new.lam)


# -------------------------------------------------- the estimator is the drivers
def _model_like(est, seed):
    model = LDAModel(require_backend(est.backend), est.n_components,
                     random_state=np.random.RandomState(seed), warm=est.e_step_init == "warm")
    lam = model.draw_lambda(N_WORDS, np.float64)
    return model, model.initial_state(lam, 1.0 / est.n_components,
                                      np.full(est.n_components, 1.0 / est.n_components))


@pytest.mark.parametrize("backend", ["numpy", "numba", "cython"])
@pytest.mark.parametrize("e_step_init", ["random", "warm"])
def test_fit_is_run_cavi_on_the_model(backend, e_step_init):
    X = counts()
    est = LatentDirichletAllocation(N_TOPICS, max_iter=4, random_state=5, backend=backend,
                                    e_step_init=e_step_init).fit(X)
    model, g = _model_like(est, 5)
    res = run_cavi(model, [CsrCorpus.from_csr(X)], g, max_iter=4)
    np.testing.assert_array_equal(est.components_, res.g.lam)
    assert est.elbo_history_ == res.elbo_history and est.n_iter_ == res.n_iter == 4


@pytest.mark.parametrize("backend", ["numpy", "numba", "cython"])
def test_online_fit_and_partial_fit_are_svi_on_the_model(backend):
    X = counts()
    est = LatentDirichletAllocation(N_TOPICS, max_iter=3, random_state=5, backend=backend,
                                    learning_method="online", batch_size=16).fit(X)
    model, g = _model_like(est, 5)
    blocks = [Minibatch.from_csr(X[i:i + 16]) for i in range(0, X.shape[0], 16)]
    schedule = RobbinsMonro(est.learning_offset, est.learning_decay, total=X.shape[0])
    res = run_cavi(model, blocks, g, max_iter=3, svi=schedule)
    np.testing.assert_array_equal(est.components_, res.g.lam)
    assert est.elbo_history_ == res.elbo_history and est.n_batch_iter_ == schedule.t == 13

    est = LatentDirichletAllocation(N_TOPICS, random_state=5, backend=backend, batch_size=16,
                                    total_samples=500).partial_fit(X)
    model, g = _model_like(est, 5)
    schedule = RobbinsMonro(est.learning_offset, est.learning_decay, total=500)
    g, _ = run_svi(model, blocks, g, schedule)
    np.testing.assert_array_equal(est.components_, g.lam)


def test_the_perplexity_rule_evaluates_once_per_pass():
    """The perplexity in a pass's verbose line is the one the stop rule decides on."""
    calls = []

    class Rec:
        def __init__(self, index, elbo):
            self.index, self.elbo = index, elbo

    rule = EvaluateEvery(2, 0.5, value=lambda r: calls.append(r.index) or -r.elbo)
    rule.start()
    values, decisions = [], []
    for i, elbo in enumerate([-10.0, -8.0, -7.0, -7.8]):
        rec = Rec(i, elbo)
        values.append(rule.evaluate(rec))
        decisions.append(rule(rec))
    assert values == [None, 8.0, None, 7.8] and calls == [1, 3]
    assert decisions == [0, 0, 0, 2] and rule.converged


@pytest.mark.parametrize("method, arrays", [("batch", 4.75), ("online", 3.25)])
def test_a_fit_holds_no_more_topic_word_arrays_than_it_needs(method, arrays):
    """Peak memory of a fit, in (n_topics, n_words) float64 arrays.

    A batch step needs four (the pass's lambda and statistics, the new lambda
    and its exp(E[log beta])): the driver lets the previous pass's statistics
    and state go, the model drops the old exp(E[log beta]) (a cache) and the
    estimator does not keep the initial topics. An online fit updates lambda
    in place. Holding any one more array fails.
    """
    import tracemalloc

    require_backend("numba")
    K, V = 20, 20000
    X = sp.random(300, V, density=0.002, random_state=0, format="csr") * 10
    X.data = np.ceil(X.data)
    kw = dict(max_iter=3, backend="numba", random_state=0, learning_method=method,
              evaluate_every=1, batch_size=100)
    LatentDirichletAllocation(K, **kw).fit(X[:5])  # compile outside the measurement
    tracemalloc.start()
    try:
        LatentDirichletAllocation(K, **kw).fit(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak / (K * V * 8) < arrays
