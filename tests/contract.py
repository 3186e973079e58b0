"""The contract every engine model passes, as a mixin (one test class per model).

A subclass sets ``backends`` and implements:

- ``make_model(backend, n_jobs)`` -> a :class:`fastcavi.engine.Model`;
- ``data()`` -> the blocks of a small data set, as a list (at least 2);
- ``init_global(model)`` -> a global state to start from (deterministic).

and, if the model has a stochastic step, sets ``has_svi = True``. The tests:

1. statistics of the union equal the sum of the blocks' statistics;
2. the batch ELBO never decreases;
3. one stochastic step with rho = 1 over all the data equals one CAVI pass;
4. every backend gives the reference's (``"numpy"``) fit, global and local states;
5. the fit does not depend on ``n_jobs`` (bit-identical).
"""

import numpy as np
import pytest

from fastcavi.engine import RobbinsMonro, run_cavi, run_svi


def _flat(state):
    """The arrays and numbers of a global state, flattened, for comparisons."""
    if isinstance(state, dict):
        return np.concatenate([_flat(state[k]) for k in sorted(state)])
    if isinstance(state, (tuple, list)):
        return np.concatenate([_flat(s) for s in state]) if len(state) else np.zeros(0)
    if state is None:
        return np.zeros(0)
    if hasattr(state, "__dict__") and not isinstance(state, np.ndarray):
        return _flat(vars(state))
    if hasattr(type(state), "__slots__") and not isinstance(state, np.ndarray):
        return _flat({k: getattr(state, k) for k in type(state).__slots__})
    return np.ravel(np.asarray(state, dtype=np.float64))


class ModelContract:
    backends = ("numpy",)
    has_svi = False
    max_iter = 20
    reference_rtol = 1e-9
    #: absolute tolerance beside it, for states with entries at rounding level (0 by default)
    reference_atol = 0.0

    def _fit(self, backend="numpy", n_jobs=1, blocks=None):
        model = self.make_model(backend, n_jobs)
        blocks = self.data() if blocks is None else blocks
        return run_cavi(model, blocks, self.init_global(model), max_iter=self.max_iter)

    def test_statistics_are_additive(self):
        model = self.make_model("numpy", 1)
        blocks = self.data()
        g = self.init_global(model)
        parts = [model.local_step(b, g, model.init_local(b, g, None))[0] for b in blocks]
        whole_block = self.concatenate(blocks)
        whole, _ = model.local_step(whole_block, g, model.init_local(whole_block, g, None))
        total = parts[0]
        for p in parts[1:]:
            total = total + p
        assert total.allclose(whole, rtol=1e-10, atol=1e-12)

    def test_batch_elbo_never_decreases(self):
        h = np.asarray(self._fit().elbo_history)
        assert len(h) >= 3
        assert np.all(np.diff(h) >= -1e-9 * np.abs(h[1:])), np.diff(h).min()

    def test_rho_one_step_is_a_cavi_pass(self):
        if not self.has_svi:
            pytest.skip(f"{type(self).__name__}: the model has no stochastic step")
        model = self.make_model("numpy", 1)
        whole = [self.concatenate(self.data())]
        g0 = self.init_global(model)
        cavi = run_cavi(model, whole, g0, max_iter=1)
        sched = RobbinsMonro(0.0, 0.0, total=model.n_items(whole[0]))
        g, _ = run_svi(model, whole, g0, sched)
        np.testing.assert_allclose(_flat(g), _flat(cavi.g), rtol=1e-12, atol=0)

    @pytest.mark.parametrize("which", [0, 1, 2])
    def test_backends_agree_with_the_reference(self, which):
        if which >= len(self.backends):
            pytest.skip("fewer backends")
        ref = self._fit("numpy")
        got = self._fit(self.backends[which])
        np.testing.assert_allclose(_flat(got.g), _flat(ref.g), rtol=self.reference_rtol,
                                   atol=self.reference_atol)
        np.testing.assert_allclose(got.elbo_history, ref.elbo_history, rtol=self.reference_rtol)
        np.testing.assert_allclose(_flat(got.locals), _flat(ref.locals), rtol=self.reference_rtol,
                                   atol=self.reference_atol)

    def test_n_jobs_does_not_change_the_fit(self):
        for backend in self.backends:
            one, two = self._fit(backend, 1), self._fit(backend, 2)
            np.testing.assert_array_equal(_flat(two.g), _flat(one.g))
            np.testing.assert_array_equal(_flat(two.locals), _flat(one.locals))
            assert two.elbo_history == one.elbo_history

    # helpers a subclass may override
    def concatenate(self, blocks):
        return np.concatenate(blocks)
