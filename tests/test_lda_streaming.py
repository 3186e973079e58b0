"""LDA over sharded corpora: streamed equals in memory.

- Batch learning over shards equals ``fit`` on the same matrix to 1e-10
  relative (the shards' statistics are summed shard by shard), and bit for bit
  where the in-memory path uses the same blocks: a one-shard corpus against
  the estimator, several shards against run_cavi over the same row blocks.
- Online learning with minibatches inside shards equals in-memory online
  learning with the same cut; ``partial_fit`` of a shard equals ``partial_fit``
  of its rows.
- transform (returned or written to a folder), score, perplexity and the
  document-completion perplexity equal their in-memory values.
- A corpus with another vocabulary, or a shard that changed on disk, is refused
  and the model is kept.
"""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp

from conftest import require_backend
from fastcavi import LatentDirichletAllocation
from fastcavi.datasets import CorpusError, ShardedCorpus, shard_csr
from fastcavi.engine import run_cavi
from fastcavi.lda.corpus import CsrCorpus
from fastcavi.lda.data import read_doc_topic
from fastcavi.lda.model import LDAModel
from fastcavi.metrics import document_completion_perplexity

K, N_DOCS, N_WORDS = 5, 230, 120


def counts(n_docs=N_DOCS, n_words=N_WORDS, seed=0):
    """LDA-like whole-number counts with empty documents and unused words."""
    rng = np.random.RandomState(seed)
    beta = rng.dirichlet(np.full(n_words, 0.1), size=K)
    beta[:, [3, 50]] = 0.0
    beta /= beta.sum(axis=1, keepdims=True)
    theta = rng.dirichlet(np.full(K, 0.3), size=n_docs)
    X = np.array([rng.multinomial(rng.randint(5, 60), t @ beta) for t in theta], dtype=float)
    X[[7, 100]] = 0.0
    return sp.csr_matrix(X)


@pytest.fixture(scope="module")
def X():
    return counts()


@pytest.fixture(scope="module")
def shards(X, tmp_path_factory):
    """The matrix as shards of 64 documents (4 shards, the last of 38)."""
    return shard_csr(X, tmp_path_factory.mktemp("c") / "c", shard_docs=64)


@pytest.fixture(scope="module")
def one_shard(X, tmp_path_factory):
    return shard_csr(X, tmp_path_factory.mktemp("c1") / "c", shard_docs=N_DOCS)


def lda(**kw):
    kw.setdefault("random_state", 3)
    kw.setdefault("max_iter", 5)
    return LatentDirichletAllocation(K, **kw)


def assert_fits_equal(a, b, rtol, prior_rtol=None):
    if rtol == 0:
        np.testing.assert_array_equal(a.components_, b.components_)
        assert a.elbo_history_ == b.elbo_history_
        assert (a.elbo_, a.bound_) == (b.elbo_, b.bound_)
        np.testing.assert_array_equal(a.doc_topic_prior_, b.doc_topic_prior_)
    else:
        np.testing.assert_allclose(a.components_, b.components_, rtol=rtol)
        np.testing.assert_allclose(a.elbo_history_, b.elbo_history_, rtol=rtol)
        np.testing.assert_allclose([a.elbo_, a.bound_], [b.elbo_, b.bound_], rtol=rtol)
        np.testing.assert_allclose(a.doc_topic_prior_, b.doc_topic_prior_,
                                   rtol=prior_rtol or rtol)
    assert a.n_iter_ == b.n_iter_ and a.n_batch_iter_ == b.n_batch_iter_


# --------------------------------------------------------------------------
# Batch learning
# --------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["numpy", "numba", "cython"])
@pytest.mark.parametrize("kw", [{}, {"e_step_init": "warm"}, {"evaluate_every": 2},
                                {"learn_doc_topic_prior": "asymmetric"}],
                         ids=["random", "warm", "evaluate", "prior"])
def test_batch_over_shards_equals_in_memory(X, shards, backend, kw):
    require_backend(backend)
    mem = lda(backend=backend, **kw).fit(X)
    streamed = lda(backend=backend, **kw).fit(shards)
    # a learned alpha is Newton's to a relative step of 1e-10 (fastcavi.lda.prior): statistics
    # that differ in rounding may take one step more or less
    assert_fits_equal(streamed, mem, rtol=1e-10, prior_rtol=1e-9)
    # not bit for bit: the shards' statistics are summed shard by shard
    assert not np.array_equal(streamed.components_, mem.components_)


@pytest.mark.parametrize("kw", [{}, {"e_step_init": "warm", "evaluate_every": 1}],
                         ids=["random", "warm"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_one_shard_is_the_in_memory_fit_bit_for_bit(X, one_shard, kw, dtype):
    mem = lda(**kw).fit(X.astype(dtype))
    streamed = lda(**kw).fit(one_shard.view(dtype=dtype))
    assert streamed.components_.dtype == np.dtype(dtype)
    assert_fits_equal(streamed, mem, rtol=0)


@pytest.mark.parametrize("e_step_init", ["random", "warm"])
def test_shards_are_run_cavi_over_the_same_row_blocks_bit_for_bit(X, shards, e_step_init):
    """The same block tree in memory: run_cavi over the shards' rows as CsrCorpus blocks."""
    est = lda(e_step_init=e_step_init, backend="cython").fit(shards)
    model = LDAModel(require_backend("cython"), K, random_state=np.random.RandomState(3),
                     warm=e_step_init == "warm")
    g = model.initial_state(model.draw_lambda(N_WORDS, np.float64), 1.0 / K, np.full(K, 1.0 / K))
    blocks = [CsrCorpus.from_csr(X[s.start:s.stop]) for s in shards.shards]
    res = run_cavi(model, blocks, g, max_iter=5)
    np.testing.assert_array_equal(est.components_, res.g.lam)
    assert est.elbo_history_ == res.elbo_history


def test_warm_gamma_is_kept_on_disk_between_passes(X, shards, monkeypatch):
    import tempfile

    made = []
    real = tempfile.TemporaryDirectory

    def spy(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(tempfile, "TemporaryDirectory", spy)
    est = lda(e_step_init="warm").fit(shards)
    assert len(made) == 1 and made[0].name.split("/")[-1].startswith("fastcavi-gamma-")
    import os
    assert not os.path.exists(made[0].name)  # removed after the fit
    assert np.all(np.diff(est.elbo_history_) >= -1e-9 * np.abs(est.elbo_history_[1:]))


def test_a_single_shard_and_a_view_fit_as_their_rows(X, shards):
    s = shards.shards[1]
    np.testing.assert_array_equal(lda().fit(s).components_,
                                  lda().fit(X[s.start:s.stop]).components_)
    rows = np.arange(0, N_DOCS, 3)
    np.testing.assert_allclose(lda().fit(shards.view(rows)).components_,
                               lda().fit(X[rows]).components_, rtol=1e-10)


# --------------------------------------------------------------------------
# Online learning
# --------------------------------------------------------------------------


@pytest.mark.parametrize("e_step_init", ["random", "warm"])
@pytest.mark.parametrize("shard_docs", [32, 64])
def test_online_with_minibatches_inside_shards_equals_in_memory(X, tmp_path, shard_docs,
                                                                e_step_init):
    c = shard_csr(X, tmp_path / "c", shard_docs=shard_docs)  # one or two minibatches a shard
    kw = dict(learning_method="online", batch_size=32, max_iter=3, evaluate_every=1,
              e_step_init=e_step_init)
    mem, streamed = lda(**kw).fit(X), lda(**kw).fit(c)
    np.testing.assert_array_equal(streamed.components_, mem.components_)
    assert streamed.elbo_history_ == mem.elbo_history_ and streamed.n_batch_iter_ == 25
    np.testing.assert_allclose([streamed.bound_, streamed.elbo_], [mem.bound_, mem.elbo_],
                               rtol=1e-10)


def test_partial_fit_of_each_shard_equals_partial_fit_of_its_rows(X, shards):
    a = lda(batch_size=64, total_samples=N_DOCS)
    b = lda(batch_size=64, total_samples=N_DOCS)
    for s in shards.shards:  # one shard per call: one minibatch
        a.partial_fit(s)
        b.partial_fit(X[s.start:s.stop])
        np.testing.assert_array_equal(a.components_, b.components_)
    assert a.n_batch_iter_ == b.n_batch_iter_ == 5
    a.partial_fit(shards)  # the whole corpus in one call: an epoch over its shards
    b.partial_fit(X)
    np.testing.assert_array_equal(a.components_, b.components_)
    assert list(a.vocabulary_) == list(shards.vocabulary) and not hasattr(b, "vocabulary_")


# --------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted(X):
    return lda(max_iter=8).fit(X)


@pytest.mark.parametrize("normalize", [True, False])
def test_transform_equals_in_memory_returned_or_written(fitted, X, shards, tmp_path, normalize):
    mem = fitted.transform(X, normalize=normalize)
    np.testing.assert_array_equal(fitted.transform(shards, normalize=normalize), mem)
    out = fitted.transform(shards, normalize=normalize, out=tmp_path / "theta")
    assert out == tmp_path / "theta"
    meta = json.loads((out / "doc_topic.json").read_text())
    assert meta["n_documents"] == N_DOCS and meta["n_components"] == K
    assert meta["normalized"] is normalize
    assert [(p["start"], p["stop"]) for p in meta["parts"]] == [(0, 64), (64, 128), (128, 192),
                                                                (192, 230)]
    np.testing.assert_array_equal(np.concatenate(read_doc_topic(out, mmap_mode="r")), mem)
    with pytest.raises(FileExistsError):
        fitted.transform(shards, out=out)
    with pytest.raises(ValueError, match="for a matrix"):
        fitted.transform(X, out=tmp_path / "other")
    assert not (tmp_path / "other").exists()


def test_score_perplexity_and_completion_equal_in_memory(fitted, X, shards):
    np.testing.assert_allclose(fitted.score(shards), fitted.score(X), rtol=1e-12)
    for sub in (False, True):
        np.testing.assert_allclose(fitted.perplexity(shards, sub_sampling=sub),
                                   fitted.perplexity(X, sub_sampling=sub), rtol=1e-12)
    assert fitted.score(shards.shards[0]) == fitted.score(X[:64])
    got = document_completion_perplexity(fitted, shards, random_state=4)
    want = document_completion_perplexity(fitted, X, random_state=4)
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_another_vocabulary_is_refused_and_the_model_kept(X, shards, tmp_path):
    est = lda(max_iter=2).fit(shards)
    assert list(est.vocabulary_) == [f"w{j}" for j in range(N_WORDS)]
    assert est.top_words(3)[0][0].startswith("w")
    other = shard_csr(X, tmp_path / "o", vocabulary=[f"w{j}" for j in range(N_WORDS - 1)]
                      + ["zebra"], shard_docs=100)
    before = est.components_.copy()
    for call in (est.transform, est.score, est.perplexity, est.partial_fit,
                 lambda c: document_completion_perplexity(est, c)):
        with pytest.raises(CorpusError, match=f"word {N_WORDS - 1} is 'zebra' in the corpus, "
                                              f"'w{N_WORDS - 1}' in the model"):
            call(other)
    np.testing.assert_array_equal(est.components_, before)
    small = shard_csr(X[:, :50], tmp_path / "s")
    with pytest.raises(ValueError, match="X has 50 features"):
        est.transform(small)
    # a model fitted on a matrix has no vocabulary to compare: only the size counts
    plain = lda(max_iter=2).fit(X)
    assert plain.transform(other).shape == (N_DOCS, K)
    est.fit(X)
    assert not hasattr(est, "vocabulary_")


def test_a_changed_shard_fails_the_fit_and_keeps_the_model(X, tmp_path):
    c = shard_csr(X, tmp_path / "c", shard_docs=64)
    est = lda(max_iter=2).fit(X)
    before = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(est).items()}
    path = c.shards[3].folder / "indices.npy"
    raw = bytearray(path.read_bytes())
    raw[-2] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(CorpusError, match="shard-00003 .*checksum mismatch"):
        est.fit(ShardedCorpus(c.path))
    assert set(vars(est)) == set(before)
    np.testing.assert_array_equal(est.components_, before["components_"])
    assert est.elbo_history_ == before["elbo_history_"]


# --------------------------------------------------------------------------
# Memory: a streamed pass's peak RSS does not grow with the corpus
# --------------------------------------------------------------------------

_FIT = textwrap.dedent("""
    import sys
    from fastcavi import LatentDirichletAllocation
    from fastcavi.datasets import ShardedCorpus
    import scipy.sparse as sp
    path, kind = sys.argv[1], sys.argv[2]
    X = ShardedCorpus(path) if kind == "shards" else sp.load_npz(path)
    LatentDirichletAllocation(10, max_iter=1, random_state=0, backend="cython").fit(X)
""")

_PEAK = textwrap.dedent("""
    import resource, subprocess, sys
    subprocess.run([sys.executable, "-c", sys.argv[1]] + sys.argv[2:], check=True)
    print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
""")


def _peak_rss_mb(path, kind):
    """Peak RSS (MiB) of a process that fits one pass of LDA (K=10) to ``path``."""
    out = subprocess.run([sys.executable, "-c", _PEAK, _FIT, str(path), kind], check=True,
                         capture_output=True, text=True).stdout
    return int(out.split()[-1]) / 1024


def test_peak_rss_of_a_streamed_pass_stays_flat_as_the_corpus_grows(tmp_path):
    """x1 and x8 the same documents: streamed, the peak stays put; in memory, it grows."""
    require_backend("cython")
    rng = np.random.RandomState(0)
    X1 = sp.random(1000, 4000, density=0.04, random_state=rng, format="csr")
    X1.data = np.ceil(X1.data * 4)
    peaks = {}
    for n in (1, 8):
        Xn = sp.vstack([X1] * n, format="csr")
        shard_csr(Xn, tmp_path / f"s{n}", shard_docs=250)
        sp.save_npz(tmp_path / f"x{n}.npz", Xn, compressed=False)
        peaks["shards", n] = _peak_rss_mb(tmp_path / f"s{n}", "shards")
        peaks["memory", n] = _peak_rss_mb(tmp_path / f"x{n}.npz", "memory")
    grown = {k: peaks[k, 8] - peaks[k, 1] for k in ("shards", "memory")}
    # 7 x 160,000 more non-zeros: in memory at least their counts, word ids, column
    # structure and E-step ratios (~44 bytes each, 47 MiB); streamed, nothing
    assert grown["memory"] > 30, peaks
    assert grown["shards"] < 6, peaks


def test_a_shard_of_empty_documents(X, tmp_path):
    Y = sp.vstack([X[:50], sp.csr_matrix((40, N_WORDS)), X[50:]], format="csr")
    c = shard_csr(Y, tmp_path / "c", shard_docs=25)
    assert c.shards[2].nnz == 0
    for kw in ({}, {"e_step_init": "warm"}, {"learning_method": "online", "batch_size": 25}):
        assert_fits_equal(lda(**kw).fit(c), lda(**kw).fit(Y), rtol=1e-10)
