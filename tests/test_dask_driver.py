"""The Dask driver (issue 11): the fit a one-machine run gives, whatever the cluster does.

Small LocalClusters (processes, one thread per worker), tiny data. The
one-machine reference is ``run_cavi(..., local_pass=tree_pass)``, which sums
the blocks by the same fixed tree as the Dask driver: the two are compared bit
for bit; the default left-to-right sum of ``run_cavi`` to 1e-12.
"""

import os

import numpy as np
import pytest

distributed = pytest.importorskip("distributed", reason="the Dask driver needs dask[distributed]")

from fastcavi.engine import ElboGain, Streamed, run_cavi  # noqa: E402
from fastcavi.engine.dask_driver import (NO_CLIENT_MESSAGE, load_checkpoint,  # noqa: E402
                                         run_cavi_dask)
from fastcavi.engine.reduce import TreeSum, tree_pass, tree_sum  # noqa: E402
from fastcavi.kernels import get_backend  # noqa: E402
from fastcavi.linear_model.gaussian import LinearModel, weighted_means  # noqa: E402

from contract import _flat  # noqa: E402
from dask_blocks import D, dying_block, linear_block, logistic_block, toy_block  # noqa: E402
from engine_toy import GaussianMeanPrecision  # noqa: E402

TOY_ITEMS = [(s, 7 + 3 * s) for s in range(5)]
LINEAR_ITEMS = [(10 + s, 20 + 5 * s) for s in range(4)]
LOGISTIC_ITEMS = [(30 + s, 15 + 2 * s) for s in range(3)]


def cluster(n_workers):
    return distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                    dashboard_address=":0", silence_logs=50)


@pytest.fixture(scope="module")
def client():
    with cluster(2) as c, distributed.Client(c) as cl:
        yield cl


def linear_model(items):
    blocks = [linear_block(i) for i in items]
    X = np.vstack([b.X for b in blocks])
    y = np.concatenate([b.y for b in blocks])
    w = np.concatenate([b.w for b in blocks])
    x_shift, y_shift = weighted_means(X, y, w)
    model = LinearModel(get_backend("numpy", "regression"), 1, fit_intercept=True,
                        x_shift=x_shift, y_shift=y_shift, dual=False, a0=1e-6, b0=1e-6,
                        c0=1e-6, d0=1e-6, ard=True, learn_alpha=True)
    return model, model.initial_state(np.ones(X.shape[1])), float(w.sum())


def toy_fit(items=TOY_ITEMS, **kw):
    m = GaussianMeanPrecision()
    return run_cavi_dask(m, items, toy_block, m.init_global(), max_iter=12, **kw)


def linear_fit(items=LINEAR_ITEMS, open_block=linear_block, **kw):
    model, g0, S = linear_model(LINEAR_ITEMS)
    return run_cavi_dask(model, items, open_block, g0, max_iter=40,
                         stop=ElboGain(1e-12, weight=S), **kw)


def same(a, b):
    """Bit-identical fits: states, ELBO histories, counts."""
    np.testing.assert_array_equal(_flat(a.g), _flat(b.g))
    assert a.elbo_history == b.elbo_history
    assert (a.n_iter, a.converged) == (b.n_iter, b.converged)


def test_no_client_is_a_clear_error():
    # first in the file: before the module's client starts
    with pytest.raises(RuntimeError, match="Client") as e:
        toy_fit()
    assert str(e.value) == NO_CLIENT_MESSAGE
    assert "Client()" in NO_CLIENT_MESSAGE


def test_the_tree_is_fixed_and_streamable():
    add = lambda a, b: f"({a}+{b})"  # noqa: E731
    assert tree_sum(list("0123456"), add) == "(((0+1)+(2+3))+((4+5)+6))"
    for n in range(1, 40):
        acc = TreeSum(add)
        for p in map(str, range(n)):
            acc.push(p)
        assert acc.result() == tree_sum([str(i) for i in range(n)], add)


def test_toy_equals_the_one_machine_fit(client):
    m = GaussianMeanPrecision()
    tree = run_cavi(m, Streamed(TOY_ITEMS, toy_block), m.init_global(), max_iter=12,
                    local_pass=tree_pass)
    plain = run_cavi(m, Streamed(TOY_ITEMS, toy_block), m.init_global(), max_iter=12)
    fit = toy_fit(client=client)
    same(fit, tree)
    np.testing.assert_allclose(_flat(fit.g), _flat(plain.g), rtol=1e-12, atol=0)


def test_linear_equals_the_one_machine_fit(client):
    model, g0, S = linear_model(LINEAR_ITEMS)
    tree = run_cavi(model, Streamed(LINEAR_ITEMS, linear_block), g0, max_iter=40,
                    stop=ElboGain(1e-12, weight=S), local_pass=tree_pass)
    model, g0, S = linear_model(LINEAR_ITEMS)
    plain = run_cavi(model, Streamed(LINEAR_ITEMS, linear_block), g0, max_iter=40,
                     stop=ElboGain(1e-12, weight=S))
    fit = linear_fit(client=client)
    same(fit, tree)
    assert fit.n_iter > 3
    np.testing.assert_allclose(_flat(fit.g), _flat(plain.g), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(fit.elbo_history, plain.elbo_history, rtol=1e-12)


@pytest.mark.parametrize("n_workers", [1, 2, 3])
def test_one_two_three_workers_bit_identical(n_workers):
    # each equal, bit for bit, to the one-machine fit in the same tree: so to each other
    m = GaussianMeanPrecision()
    toy = run_cavi(m, Streamed(TOY_ITEMS, toy_block), m.init_global(), max_iter=12,
                   local_pass=tree_pass)
    model, g0, S = linear_model(LINEAR_ITEMS)
    lin = run_cavi(model, Streamed(LINEAR_ITEMS, linear_block), g0, max_iter=40,
                   stop=ElboGain(1e-12, weight=S), local_pass=tree_pass)
    with cluster(n_workers) as c, distributed.Client(c):
        same(toy_fit(), toy)  # on the current client (distributed.get_client())
        same(linear_fit(), lin)


def test_a_worker_killed_mid_fit_costs_time_not_the_result(client, tmp_path):
    marker = str(tmp_path / "died")
    items = [(s, n, marker, "linear") for s, n in LINEAR_ITEMS]
    undisturbed = linear_fit(client=client)
    disturbed = linear_fit(items, dying_block, client=client)
    assert os.path.exists(marker)  # a worker did die
    same(disturbed, undisturbed)


def test_the_worker_holding_the_global_state_killed(client, monkeypatch):
    undisturbed = toy_fit(client=client)
    scatter = client.scatter
    calls = []

    def scatter_then_kill_its_holder(data, **kw):
        future = scatter(data, **kw)[0]
        calls.append(type(data[0]).__name__)
        if len(calls) == 3:  # the model, pass 1's state, then pass 2's state: lose that one
            holders = list(client.who_has([future])[future.key])
            try:
                client.run(os._exit, 1, workers=holders)
            except Exception:  # noqa: BLE001 - the worker's comm closes under the call
                pass
        return [future]

    monkeypatch.setattr(client, "scatter", scatter_then_kill_its_holder)
    disturbed = toy_fit(client=client)
    monkeypatch.undo()
    assert len(calls) > 12 + 1  # the model, one state per pass, and the state sent again
    same(disturbed, undisturbed)


class ClientDied(Exception):
    pass


def die_at_pass(index):
    def on_pass(record):
        if record.index == index:
            raise ClientDied
    return on_pass


def test_checkpoint_and_resume(client, tmp_path):
    path = tmp_path / "fit.ckpt"
    undisturbed = linear_fit(client=client)
    # a fit whose client dies during pass 3 (0-based), after 3 completed passes
    with pytest.raises(ClientDied):
        linear_fit(client=client, checkpoint=path, extra={"random_state": 7},
                   on_pass=die_at_pass(3))
    saved = load_checkpoint(path)
    assert saved.resume.index == 3 and len(saved.resume.elbo_history) == 3
    assert saved.resume.n_iter == 3 and "_prev" in saved.resume.stop_state
    assert saved.extra == {"random_state": 7}
    assert os.listdir(tmp_path) == ["fit.ckpt"]  # written by rename: no temporary left
    resumed = linear_fit(client=client, checkpoint=path, resume=True)
    same(resumed, undisturbed)
    # without a file to resume from, resume=True starts afresh
    same(linear_fit(client=client, checkpoint=tmp_path / "none.ckpt", resume=True), undisturbed)
    with pytest.raises(ValueError, match="checkpoint"):
        linear_fit(client=client, resume=True)


def test_kept_local_states_go_and_come_back(client):
    kept = [None] * len(LINEAR_ITEMS)
    same(linear_fit(client=client, locals_=kept), linear_fit(client=client))
    assert kept == [None] * len(LINEAR_ITEMS)  # the linear model has no local state


# ---- estimators with scheduler="dask" -----------------------------------------------------


def regression_data(n=60, d=4, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = X @ np.linspace(1.0, -1.0, d) + 0.3 + 0.2 * rng.standard_normal(n)
    w = rng.uniform(0.5, 2.0, n)
    return X, y, w


@pytest.mark.parametrize("solver", ["primal", "dual"])
def test_vb_linear_regression_on_dask(client, solver):
    import dask.array as da

    from fastcavi import VBLinearRegression
    X, y, w = regression_data(n=12 if solver == "dual" else 60, d=4 if solver == "primal" else 15)
    kw = dict(ard=True, solver=solver, tol=1e-12)
    threads = VBLinearRegression(**kw).fit(X, y, sample_weight=w)
    chunks = X.shape[0] // 4 + 1
    on_dask = VBLinearRegression(scheduler="dask", **kw).fit(
        da.from_array(X, chunks=(chunks, -1)), da.from_array(y, chunks=chunks),
        sample_weight=da.from_array(w, chunks=chunks))
    in_memory = VBLinearRegression(scheduler="dask", **kw).fit(X, y, sample_weight=w)
    for fit in (on_dask, in_memory):
        np.testing.assert_allclose(fit.coef_, threads.coef_, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(fit.elbo_history_, threads.elbo_history_, rtol=1e-12)
        np.testing.assert_allclose(fit.sigma_, threads.sigma_, rtol=1e-9, atol=1e-13)
        assert fit.intercept_ == pytest.approx(threads.intercept_, rel=1e-10, abs=1e-12)
        assert fit.n_iter_ == threads.n_iter_ and fit.n_features_in_ == X.shape[1]
    np.testing.assert_allclose(on_dask.predict(X), threads.predict(X), rtol=1e-10, atol=1e-12)


def test_vb_linear_regression_dask_errors(client):
    import dask.array as da

    from fastcavi import VBLinearRegression
    X, y, w = regression_data()
    bad = X.copy()
    bad[5, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        VBLinearRegression(scheduler="dask").fit(da.from_array(bad, chunks=(20, -1)), y)
    with pytest.raises(ValueError, match="constant"):
        VBLinearRegression(scheduler="dask").fit(da.from_array(X, chunks=(20, -1)),
                                                 np.ones(len(y)))
    with pytest.raises(ValueError, match="scheduler"):
        VBLinearRegression(scheduler="spark").fit(X, y)


def test_vb_logistic_regression_on_dask(client):
    import dask.array as da

    from fastcavi import VBLogisticRegression
    rng = np.random.default_rng(5)
    X = rng.standard_normal((60, 3))
    y = np.where(X @ [1.5, -1.0, 0.5] + 0.5 * rng.standard_normal(60) > 0, 1, 0)
    y[::7] = 2  # three classes: three one-vs-rest problems
    kw = dict(ard=True, tol=1e-10, max_iter=8)  # (8 passes per problem keep the test short)
    threads = VBLogisticRegression(**kw).fit(X, y)
    on_dask = VBLogisticRegression(scheduler="dask", **kw).fit(
        da.from_array(X, chunks=(16, -1)), da.from_array(y, chunks=16))
    in_memory = VBLogisticRegression(scheduler="dask", **kw).fit(X, y)
    for fit in (on_dask, in_memory):
        np.testing.assert_array_equal(fit.classes_, threads.classes_)
        np.testing.assert_allclose(fit.coef_, threads.coef_, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(fit.intercept_, threads.intercept_, rtol=1e-9, atol=1e-12)
        for a, b in zip(fit.elbo_history_, threads.elbo_history_):
            np.testing.assert_allclose(a, b, rtol=1e-12)
        np.testing.assert_array_equal(fit.n_iter_, threads.n_iter_)
    np.testing.assert_allclose(on_dask.predict_proba(X), threads.predict_proba(X), rtol=1e-9)


def test_importing_fastcavi_loads_no_dask():
    import subprocess
    import sys
    code = ("import sys, fastcavi, fastcavi.engine, fastcavi.linear_model, fastcavi.mixture, "
            "fastcavi.lda, fastcavi.datasets; "
            "loaded = [m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')]; "
            "assert not loaded, loaded")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_lda_over_shards_read_on_the_workers(client, tmp_path):
    # the engine's LDA model over a ShardedCorpus: each task opens its shard from the path
    # the Shard item names (nothing of the corpus is shipped); gamma is drawn from one random
    # state on the client in block order (LDAModel.start_local), as the streamed fit draws it
    import scipy.sparse as sp

    from fastcavi.datasets import ShardedCorpus, shard_csr
    from fastcavi.engine import DiscardLocals
    from fastcavi.lda.data import open_shard
    from fastcavi.lda.model import LDAModel

    rng = np.random.default_rng(0)
    X = sp.csr_matrix(rng.poisson(0.6, size=(23, 17)).astype(np.float64))
    shard_csr(X, tmp_path / "corpus", shard_docs=6)
    shards = ShardedCorpus(tmp_path / "corpus").shards
    assert len(shards) == 4

    def start():
        model = LDAModel(get_backend("numpy", "lda"), 3, random_state=np.random.RandomState(2))
        lam = np.random.RandomState(1).gamma(100.0, 0.01, (3, 17))
        return model, model.initial_state(lam, 1.0 / 3, np.full(3, 1.0 / 3))

    model, g0 = start()
    one = run_cavi(model, Streamed(shards, open_shard), g0, max_iter=5, local_pass=tree_pass,
                   locals_=DiscardLocals(len(shards)))
    model, g0 = start()
    fit = run_cavi_dask(model, shards, open_shard, g0, client=client, max_iter=5)
    np.testing.assert_array_equal(fit.g.lam, one.g.lam)
    assert fit.elbo_history == one.elbo_history


def test_checkpoint_and_resume_evaluate_first(client, tmp_path):
    # VB logistic's model (ELBO before the global step): checkpoints after each global step
    from fastcavi.linear_model.jaakkola import LogisticModel

    def fit(**kw):
        model = LogisticModel(get_backend("numpy", "regression"), 1, D, intercept=True,
                              beta0=1e-2, c0=1e-2, d0=1e-4, ard=True, learn_alpha=True)
        return run_cavi_dask(model, LOGISTIC_ITEMS, logistic_block, model.initial_state(
            np.ones(D)), client=client, max_iter=15, stop=ElboGain(1e-12, weight=1.0), **kw)

    path = tmp_path / "fit.ckpt"
    undisturbed = fit()
    with pytest.raises(ClientDied):
        fit(checkpoint=path, on_pass=die_at_pass(4))
    assert load_checkpoint(path).resume.index == 4
    same(fit(checkpoint=path, resume=True), undisturbed)
    model = LogisticModel(get_backend("numpy", "regression"), 1, D, intercept=True,
                          beta0=1e-2, c0=1e-2, d0=1e-4, ard=True, learn_alpha=True)
    one = run_cavi(model, Streamed(LOGISTIC_ITEMS, logistic_block), model.initial_state(
        np.ones(D)), max_iter=15, stop=ElboGain(1e-12, weight=1.0), local_pass=tree_pass)
    same(undisturbed, one)


def test_svi_epoch_with_shards_as_minibatches(client):
    from fastcavi.engine import RobbinsMonro, run_svi
    from fastcavi.engine.dask_driver import run_svi_dask

    m = GaussianMeanPrecision()
    order = np.random.RandomState(4).permutation(len(TOY_ITEMS))
    total = sum(n for _, n in TOY_ITEMS)
    g1, s1 = run_svi_dask(m, TOY_ITEMS, toy_block, m.init_global(),
                          RobbinsMonro(1.0, 0.7, total), client=client, order=order)
    g0, s0 = run_svi(m, Streamed([TOY_ITEMS[b] for b in order], toy_block), m.init_global(),
                     RobbinsMonro(1.0, 0.7, total))
    assert g1 == g0
    assert [s1[k] for k in s1.keys()] == [s0[k] for k in s0.keys()]


@pytest.mark.parametrize("e_step_init", ["random", "warm"])
def test_lda_estimator_on_dask(client, tmp_path, e_step_init):
    import scipy.sparse as sp

    from fastcavi import LatentDirichletAllocation
    from fastcavi.datasets import ShardedCorpus, shard_csr

    rng = np.random.default_rng(1)
    X = sp.csr_matrix(rng.poisson(0.7, size=(30, 20)).astype(np.float64))
    shard_csr(X, tmp_path / "corpus", shard_docs=8)
    corpus = ShardedCorpus(tmp_path / "corpus")
    kw = dict(n_components=3, max_iter=6, evaluate_every=2, random_state=0, backend="numpy",
              e_step_init=e_step_init)
    threads = LatentDirichletAllocation(**kw).fit(corpus)
    on_dask = LatentDirichletAllocation(scheduler="dask", **kw).fit(corpus)
    np.testing.assert_allclose(on_dask.components_, threads.components_, rtol=1e-10)
    assert on_dask.bound_ == pytest.approx(threads.bound_, rel=1e-12)
    assert on_dask.n_iter_ == threads.n_iter_
    with pytest.raises(ValueError, match="ShardedCorpus"):
        LatentDirichletAllocation(scheduler="dask", **kw).fit(X)
