"""Engine pieces added for the mixture: restarts (:func:`best_of`) and the state a
pass's ELBO describes (``PassRecord.g_step``), on the model of tests/engine_toy.py."""

import math

import numpy as np

from engine_toy import GaussianMeanPrecision
from fastcavi.engine import Change, best_of, run_cavi


def test_best_of_keeps_the_largest_score_and_the_first_of_ties():
    scores = [1.0, 3.0, 2.0, 3.0]
    calls = []

    def fit_once(i):
        calls.append(i)
        return scores[i], f"fit {i}"

    assert best_of(4, fit_once) == ("fit 1", 3.0)
    assert calls == [0, 1, 2, 3]


def test_best_of_with_minus_inf_scores_keeps_the_last():
    # scikit-learn's rule: while the best is -inf any result replaces it (max_iter=0)
    assert best_of(3, lambda i: (-math.inf, i)) == (2, -math.inf)
    assert best_of(3, lambda i: ([-math.inf, 5.0, -math.inf][i], i)) == (1, 5.0)
    assert best_of(1, lambda i: (0.0, "only")) == ("only", 0.0)


def test_pass_record_g_step_is_the_state_before_the_post_step():
    model = GaussianMeanPrecision()
    data = np.random.default_rng(0).normal(2.0, 0.5, 200)
    seen = []

    def post(g, stats):
        return (0.0, 1.0, 1.0, 1.0), True   # a post-step that changes the state

    res = run_cavi(model, [data], model.init_global(), max_iter=3, post_step=post,
                   on_pass=seen.append, stop=Change(math.inf))
    assert [r.changed for r in seen] == [True, True, False]   # none after the last pass
    assert res.n_iter == 3 and res.converged                  # a changed pass never converges
    for r in seen:
        assert r.elbo == model.elbo(r.g_prev, r.g_step, r.stats)
    assert seen[0].g == (0.0, 1.0, 1.0, 1.0) != seen[0].g_step
    assert seen[-1].g is seen[-1].g_step is res.g
