"""The engine's drivers and stop rules, on the textbook model of tests/engine_toy.py."""

import math

import numpy as np
import pytest

from contract import ModelContract
from engine_toy import GaussianMeanPrecision
from fastcavi.engine import (STOP, STOP_UNCOUNTED, Change, ElboGain, EvaluateEvery, Below,
                             OnePass, RobbinsMonro, Stats, run_cavi, run_svi)


@pytest.fixture
def data():
    return np.random.default_rng(0).normal(2.0, 0.5, 1000)


def test_stats_are_additive_and_scale(data):
    model = GaussianMeanPrecision()
    g = model.init_global()
    whole, _ = model.local_step(data, g, None)
    a, _ = model.local_step(data[:300], g, None)
    b, _ = model.local_step(data[300:], g, None)
    assert (a + b).allclose(whole, rtol=1e-13)
    assert a.scaled(2.0)["sx"] == 2.0 * a["sx"]
    with pytest.raises(TypeError, match="names"):
        _ = a + Stats(n=1.0)


def test_cavi_elbo_never_decreases_and_stays_below_the_evidence(data):
    model = GaussianMeanPrecision()
    res = run_cavi(model, [data], model.init_global(), max_iter=50, stop=ElboGain(1e-12))
    h = np.array(res.elbo_history)
    assert np.all(np.diff(h) >= -1e-9 * np.abs(h[1:]))
    assert res.converged and res.n_iter < 50
    # mean-field is a lower bound on log p(x), and here the gap is small but positive
    gap = model.log_evidence(data) - h[-1]
    assert 0 < gap < 1.0
    mu_n, lam_n, a_n, b_n = res.g
    assert mu_n == pytest.approx(data.mean(), rel=1e-3)
    # E_q[tau] against the exact conjugate posterior's a / b
    n, xbar = len(data), data.mean()
    a = model.a0 + 0.5 * n
    b = model.b0 + 0.5 * (np.sum((data - xbar) ** 2) + model.lambda0 * n * xbar ** 2 / (1 + n))
    assert a_n / b_n == pytest.approx(a / b, rel=2e-3)


def test_blocks_give_the_same_fit_as_one_block(data):
    model = GaussianMeanPrecision()
    one = run_cavi(model, [data], model.init_global(), max_iter=20)
    four = run_cavi(model, np.array_split(data, 4), model.init_global(), max_iter=20)
    np.testing.assert_allclose(four.g, one.g, rtol=1e-12)
    np.testing.assert_allclose(four.elbo_history, one.elbo_history, rtol=1e-12)


def test_one_svi_step_with_rho_one_over_all_data_is_a_cavi_pass(data):
    model = GaussianMeanPrecision()
    g0 = model.init_global()
    cavi = run_cavi(model, [data], g0, max_iter=1)
    schedule = RobbinsMonro(learning_offset=0.0, learning_decay=0.0, total=len(data))
    assert schedule.rho() == 1.0
    g, _ = run_svi(model, [data], g0, schedule)
    assert g == cavi.g
    assert schedule.t == 2


def test_svi_epochs_approach_the_cavi_optimum(data):
    model = GaussianMeanPrecision()
    g0 = model.init_global()
    batch = run_cavi(model, [data], g0, max_iter=100, stop=ElboGain(0.0))
    sched = RobbinsMonro(learning_offset=1.0, learning_decay=0.7, total=len(data))
    online = run_cavi(model, np.array_split(data, 20), g0, max_iter=30, svi=sched)
    assert sched.t == 1 + 20 * 30
    assert online.g[0] == pytest.approx(batch.g[0], rel=1e-2)
    assert online.g[2] / online.g[3] == pytest.approx(batch.g[2] / batch.g[3], rel=0.05)


def test_a_non_finite_elbo_raises(data):
    model = GaussianMeanPrecision()
    bad = data.copy()
    bad[3] = np.nan
    with pytest.raises(FloatingPointError, match="pass 1"):
        run_cavi(model, [bad], model.init_global(), max_iter=5)


class _Rec:
    def __init__(self, index, elbo, changed=False):
        self.index, self.elbo, self.changed = index, elbo, changed


def test_stop_rules():
    rule = ElboGain(0.1, weight=10.0)   # stops on a gain below 1 nat
    rule.start()
    assert [rule(_Rec(i, e)) for i, e in enumerate([-100.0, -50.0, -49.5])] == [0, 0, STOP]
    assert rule.converged

    rule = Change(1e-3)                 # first pass compares against -inf
    rule.start()
    assert rule(_Rec(0, -5.0)) == 0
    assert rule(_Rec(1, -5.0, changed=True)) == 0   # a pruned pass never converges
    assert rule(_Rec(2, -5.0)) == STOP

    seen = []
    rule = EvaluateEvery(2, 0.5, value=lambda r: -r.elbo, on_value=lambda r, v: seen.append(v))
    rule.start()
    out = [rule(_Rec(i, e)) for i, e in enumerate([-10.0, -8.0, -7.0, -7.8])]
    assert out == [0, 0, 0, STOP_UNCOUNTED] and seen == [8.0, 7.8]
    rule = EvaluateEvery(0, 1.0, value=lambda r: 1 / 0)   # never evaluates
    rule.start()
    assert rule(_Rec(0, 1.0)) == 0

    rule = Below(1e-3, value=lambda r: r.elbo)
    rule.start()
    assert rule(_Rec(0, 1.0)) == 0 and rule(_Rec(1, 1e-4)) == STOP
    rule = OnePass()
    rule.start()
    assert rule(_Rec(0, 1.0)) == STOP


def test_uncounted_stop_and_post_step(data):
    model = GaussianMeanPrecision()
    calls = []

    def post(g, stats):
        calls.append(g)
        return g, False

    stop = EvaluateEvery(1, math.inf, value=lambda r: r.elbo)   # stops at the 2nd evaluation
    res = run_cavi(model, [data], model.init_global(), max_iter=10, stop=stop, post_step=post)
    assert len(res.elbo_history) == 2 and res.n_iter == 1 and res.converged
    assert len(calls) == 2
    res = run_cavi(model, [data], model.init_global(), max_iter=3, post_step=post)
    assert len(calls) == 2 + 2   # never after the last pass
    assert res.n_iter == 3 and not res.converged


class TestGaussianMeanPrecisionContract(ModelContract):
    """The contract mixin on the textbook model (it has one backend: NumPy)."""

    has_svi = True

    def make_model(self, backend, n_jobs):
        return GaussianMeanPrecision(mu0=1.0, lambda0=0.5, a0=2.0, b0=0.5)

    def data(self):
        return np.array_split(np.random.default_rng(1).normal(-1.0, 2.0, 500), 3)

    def init_global(self, model):
        return (0.0, 1.0, 1.0, 1.0)
