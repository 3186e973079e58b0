"""A failed fit leaves the previous model: LatentDirichletAllocation and BayesianGaussianMixture.

``fit`` and ``partial_fit`` commit through :func:`fastcavi._base.fit_transaction`.
Whatever they raise, at input validation or in the middle of an iteration (a
NaN from a kernel, a ``KeyboardInterrupt``), every attribute of the estimator
(``vars()``, compared deeply with conftest's ``assert_state_equal``) is what it
was before the call, the old model still transforms / predicts as before, and an
estimator that was not fitted stays unfitted. A NaN from a kernel that reaches
the model is a ``FloatingPointError`` naming the quantity; one that does not
reach it leaves a finite model.

Failures inside an iteration are injected by wrapping a kernel of the backend
namespace (``require_backend`` returns the namespace the estimator uses), so
that its k-th call raises or writes NaN into one of its outputs, for every k
the call makes.
"""

import contextlib
import copy
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils.validation import check_is_fitted

import fastcavi.mixture.steps as G
from fastcavi import BayesianGaussianMixture, LatentDirichletAllocation
from conftest import assert_state_equal, require_backend, snapshot_state

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

BACKENDS = ("numpy", "numba", "cython")
COV_TYPES = ("full", "tied", "diag", "spherical")
#: the exhaustive fault tests: fit and partial_fit on a fitted model, partial_fit on a
#: fresh one (a fresh fit is the fitted one's loop; the targeted tests cover it)
CALLS_ON = [("fit", True), ("partial_fit", True), ("partial_fit", False)]
CALLS_ON_IDS = ["fit-fitted", "partial_fit-fitted", "partial_fit-fresh"]

#: kernel name -> the outputs a fault is injected into: an argument index (an
#: array the kernel writes) or "return"/("return", i) for its return value
LDA_OUTPUTS = {
    "lda_e_step": (5, 9, 10, 11),  # gamma, exp_doc_topic, ratio, doc_bound
    "lda_suff_stats": (6,),  # out
    "exp_dirichlet_expectation_T": (2, "return"),  # out, topic bound
}
GMM_OUTPUTS = {
    "gmm_e_step": (6, 7, 8, ("return", 0), ("return", 1)),  # nk, sx, sxx, s_norm, s_rlogr
}


# --------------------------------------------------------------------------- helpers
class Fault:
    """A kernel wrapper whose ``at``-th call raises or writes NaN into ``output``.

    ``at=None`` only counts the calls (``self.calls``).
    """

    def __init__(self, kernel, at=None, output="interrupt"):
        self.kernel, self.at, self.output, self.calls = kernel, at, output, 0

    def __call__(self, *args):
        self.calls += 1
        if self.calls != self.at:
            return self.kernel(*args)
        if self.output == "interrupt":
            raise KeyboardInterrupt
        result = self.kernel(*args)
        if isinstance(self.output, int):
            args[self.output][...] = np.nan
        elif self.output == "return":
            result = np.nan
        else:
            result = tuple(np.nan if i == self.output[1] else r for i, r in enumerate(result))
        return result


@contextlib.contextmanager
def faulty(namespace, name, at=None, output="interrupt"):
    """Replace ``namespace.name`` by a :class:`Fault` for the duration of the block."""
    with pytest.MonkeyPatch.context() as mp:
        fault = Fault(getattr(namespace, name), at, output)
        mp.setattr(namespace, name, fault)
        yield fault


def assert_all_finite(value, path="vars()"):
    """Every float in a (nested) fitted state is finite."""
    if isinstance(value, dict):
        for k, v in value.items():
            assert_all_finite(v, f"{path}[{k!r}]")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            assert_all_finite(v, f"{path}[{i}]")
    elif isinstance(value, np.ndarray) and value.dtype.kind == "f":
        assert np.all(np.isfinite(value)), path
    elif isinstance(value, float):
        assert np.isfinite(value), path


def fitted_state(est):
    """The attributes a fit publishes (public ones ending in ``_`` and private ones)."""
    return {k: v for k, v in vars(est).items() if k.endswith("_") or k.startswith("_")}


class Before:
    """What a failed call must leave: the deep state and, if fitted, the outputs."""

    def __init__(self, est, outputs_of):
        self.state = snapshot_state(est)
        self.fitted = hasattr(est, "n_features_in_")
        self.outputs_of = outputs_of
        self.outputs = outputs_of(est) if self.fitted else None

    def assert_kept(self, est, path="vars()"):
        assert_state_equal(self.state, snapshot_state(est), path)
        if self.fitted:
            for a, b in zip(self.outputs_of(est), self.outputs):
                np.testing.assert_array_equal(a, b, err_msg=path)
        else:
            with pytest.raises(NotFittedError):
                check_is_fitted(est)


def assert_fails_and_keeps(est, call, outputs_of, expected=Exception, match=None,
                           fault=contextlib.nullcontext):
    """``call(est)``, run inside the context ``fault()``, raises ``expected``; then vars()
    and ``outputs_of(est)`` are unchanged (or ``est`` is still unfitted)."""
    before = Before(est, outputs_of)
    with fault(), pytest.raises(expected, match=match):
        call(est)
    before.assert_kept(est)


def inject_every_fault(est, call, outputs_of, namespace, kernel_outputs):
    """Inject each fault at each call of each kernel, on a copy of ``est``: the call
    fails and keeps the previous state, or (a NaN that never reaches the model) it
    succeeds with a finite model.

    Returns the number of faults that raised FloatingPointError.
    """
    raised = 0
    for name, outputs in kernel_outputs.items():
        with faulty(namespace, name) as count:
            call(snapshot_copy(est))
        assert count.calls > 0, name
        for at in range(1, count.calls + 1):
            for output in ("interrupt",) + outputs:
                where = f"{name} call {at}: {output}"
                trial = snapshot_copy(est)
                before = Before(trial, outputs_of)
                with faulty(namespace, name, at, output):
                    try:
                        call(trial)
                    except KeyboardInterrupt:
                        assert output == "interrupt", where
                    except FloatingPointError as exc:
                        assert output != "interrupt" and "NaN or infinite" in str(exc), where
                        raised += 1
                    else:
                        assert output != "interrupt", where
                        assert_all_finite(fitted_state(trial), where)
                        continue
                before.assert_kept(trial, where)
    return raised


def snapshot_copy(est):
    """An independent copy of ``est`` with the same state."""
    return copy.deepcopy(est)


# --------------------------------------------------------------------------- LDA
@pytest.fixture(scope="module")
def counts():
    rs = np.random.RandomState(0)
    X = rs.poisson(1.0, size=(20, 12)).astype(np.float64)
    X[:, 0] += 1  # no empty document
    return sp.csr_matrix(X)


def make_lda(backend, method, **kw):
    require_backend(backend)
    params = dict(n_components=3, max_iter=2, batch_size=10, random_state=0, backend=backend,
                  learning_method=method)
    params.update(kw)
    return LatentDirichletAllocation(**params)


def lda_outputs(X):
    return lambda est: (est.transform(X, normalize=False), est.perplexity(X))


@pytest.mark.parametrize("backend", BACKENDS)
def test_issue10_lda_refit_with_negative_count_keeps_the_model(backend):
    # issue 10: fitted on 30 x 20, then fit on 10 x 7 with a negative count
    rs = np.random.RandomState(0)
    X = rs.poisson(1.0, size=(30, 20)).astype(np.float64)
    lda = make_lda(backend, "batch").fit(X)
    bad = rs.poisson(1.0, size=(10, 7)).astype(np.float64)
    bad[3, 2] = -1.0
    assert_fails_and_keeps(lda, lambda est: est.fit(bad), lda_outputs(X), ValueError,
                           "Negative values")
    assert lda.n_features_in_ == 20 == lda.components_.shape[1]
    assert lda.transform(X).shape == (30, 3)


def _lda_bad_inputs(X):
    dense = X.toarray()
    negative, nan = dense.copy(), dense.copy()
    negative[0, 1] = -2.0
    nan[1, 3] = np.nan
    return {
        "negative count": (negative, ValueError, "Negative values"),
        "NaN count": (nan, ValueError, "NaN"),
        "other n_features": (dense[:, :7], ValueError, "features"),
    }


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", ["batch", "online"])
@pytest.mark.parametrize("call", ["fit", "partial_fit", "fit_transform"])
def test_lda_validation_failure_keeps_previous_model(backend, method, call, counts):
    for name, (bad, error, match) in _lda_bad_inputs(counts).items():
        if call != "partial_fit" and name == "other n_features":
            bad = np.vstack([bad, -bad])  # refitting may change n_features; add a negative
            match = "Negative values"
        lda = make_lda(backend, method).fit(counts)
        assert_fails_and_keeps(lda, lambda est: getattr(est, call)(bad), lda_outputs(counts),
                               error, match)
        if call == "partial_fit" and name == "other n_features":
            continue  # a fresh estimator accepts any n_features
        fresh = make_lda(backend, method)
        assert_fails_and_keeps(fresh, lambda est: getattr(est, call)(bad), None, error, match)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", ["batch", "online"])
def test_lda_nan_from_kernel_is_an_error_and_keeps_the_model(backend, method, counts):
    """The 2nd E-step call returns NaN exp_doc_topic (the statistics' input) or NaN
    document ELBO terms: FloatingPointError."""
    ns = require_backend(backend)
    for call in ("fit", "partial_fit"):
        lda = make_lda(backend, method).fit(counts)
        fresh = make_lda(backend, method)
        for est in (lda, fresh):
            for output in (9, 11):
                assert_fails_and_keeps(est, lambda e: getattr(e, call)(counts),
                                       lda_outputs(counts), FloatingPointError,
                                       "NaN or infinite",
                                       lambda: faulty(ns, "lda_e_step", 2, output))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", ["batch", "online"])
def test_lda_interrupt_in_second_e_step_keeps_the_model(backend, method, counts):
    ns = require_backend(backend)
    for call in ("fit", "partial_fit"):
        for est in (make_lda(backend, method).fit(counts), make_lda(backend, method)):
            assert_fails_and_keeps(est, lambda e: getattr(e, call)(counts), lda_outputs(counts),
                                   KeyboardInterrupt, fault=lambda: faulty(ns, "lda_e_step", 2))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", ["batch", "online"])
@pytest.mark.parametrize("call, fitted", CALLS_ON, ids=CALLS_ON_IDS)
def test_lda_every_kernel_fault_keeps_the_model_or_a_finite_one(backend, method, call, fitted,
                                                                  counts):
    ns = require_backend(backend)
    est = make_lda(backend, method)
    if fitted:
        est.fit(counts)
    raised = inject_every_fault(est, lambda e: getattr(e, call)(counts), lda_outputs(counts),
                                ns, LDA_OUTPUTS)
    assert raised > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_lda_warm_learned_prior_every_kernel_fault(backend, counts):
    ns = require_backend(backend)
    est = make_lda(backend, "batch", e_step_init="warm", learn_doc_topic_prior="asymmetric",
                   evaluate_every=1, perp_tol=0.0).fit(counts)
    assert inject_every_fault(est, lambda e: e.fit(counts), lda_outputs(counts), ns,
                              LDA_OUTPUTS) > 0


@pytest.mark.parametrize("method", ["batch", "online"])
def test_lda_interrupt_while_publishing_keeps_the_model(method, counts, monkeypatch):
    """An interrupt in the middle of _commit (after components_ is assigned)."""
    lda = make_lda("numpy", method).fit(counts)

    def interrupted(self, alpha):
        raise KeyboardInterrupt

    monkeypatch.setattr(LatentDirichletAllocation, "_alpha_public", interrupted)
    for call in ("fit", "partial_fit"):
        assert_fails_and_keeps(lda, lambda e: getattr(e, call)(counts), lda_outputs(counts),
                               KeyboardInterrupt)
    assert_fails_and_keeps(make_lda("numpy", method), lambda e: e.partial_fit(counts), None,
                           KeyboardInterrupt)


def test_lda_feature_names_are_kept(counts):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(counts.toarray(), columns=[f"w{j}" for j in range(counts.shape[1])])
    lda = make_lda("numpy", "batch").fit(df)
    other = pd.DataFrame(-np.ones((4, 5)), columns=list("abcde"))
    assert_fails_and_keeps(lda, lambda e: e.fit(other), lda_outputs(df), ValueError)
    assert list(lda.feature_names_in_) == list(df.columns)


def test_lda_random_state_instance_is_not_shared_with_the_model(counts):
    """A RandomState passed as random_state is consumed by every fit, failed or not (as in
    scikit-learn), but the fitted random_state_ is the model's own and stays as it was."""
    rs = np.random.RandomState(0)
    lda = make_lda("numpy", "online", random_state=rs).fit(counts)
    assert lda.random_state_ is not rs
    before = snapshot_state(lda)
    with faulty(require_backend("numpy"), "lda_e_step", 2):
        with pytest.raises(KeyboardInterrupt):
            lda.fit(counts)
    after = snapshot_state(lda)
    before.pop("random_state"), after.pop("random_state")
    assert_state_equal(before, after)


def test_lda_partial_fit_does_not_write_published_arrays(counts):
    """A successful partial_fit publishes new arrays: the old ones are unchanged."""
    for method in ("batch", "online"):
        lda = make_lda("numba", method).fit(counts)
        old = {k: v for k, v in vars(lda).items() if isinstance(v, np.ndarray)}
        copies = {k: v.copy() for k, v in old.items()}
        old_rs, old_rs_state = lda.random_state_, lda.random_state_.get_state(legacy=False)
        lda.partial_fit(counts)
        for k, v in old.items():
            np.testing.assert_array_equal(v, copies[k], err_msg=k)
        assert not np.array_equal(lda.components_, copies["components_"])
        assert_state_equal(old_rs_state, old_rs.get_state(legacy=False))  # not advanced


# --------------------------------------------------------------------------- mixture
@pytest.fixture(scope="module")
def X3():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0, 0.0], [5.0, 5.0, 0.0], [0.0, 6.0, 4.0]])
    X = np.vstack([c + rng.normal(scale=s, size=(n, 3))
                   for c, s, n in zip(centres, (1.0, 0.5, 0.8), (60, 50, 40))])
    return X[rng.permutation(X.shape[0])]


def make_gmm(backend, cov_type, **kw):
    require_backend(backend, "gmm")
    params = dict(n_components=3, covariance_type=cov_type, max_iter=4, tol=0.0, random_state=0,
                  backend=backend)
    params.update(kw)
    return BayesianGaussianMixture(**params)


def gmm_outputs(X):
    return lambda est: (est.predict(X), est.predict_proba(X), est.score_samples(X),
                        est.predictive_log_density(X))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_gmm_validation_failure_keeps_previous_model(backend, cov_type, X3):
    nan = X3.copy()
    nan[5, 1] = np.nan
    bad_weight = -np.ones(X3.shape[0])
    cases = {
        "fit": [(nan, None, ValueError, "NaN"),
                (X3[:2], None, ValueError, "n_samples >= n_components"),
                (X3, bad_weight, ValueError, "[Nn]egative")],
        "fit_predict": [(nan, None, ValueError, "NaN")],
        "partial_fit": [(nan, None, ValueError, "NaN"),
                        (X3[:, :2], None, ValueError, "features"),
                        (X3, bad_weight, ValueError, "[Nn]egative")],
    }
    for call, failures in cases.items():
        for bad, weight, error, match in failures:
            gmm = make_gmm(backend, cov_type).fit(X3)
            assert_fails_and_keeps(gmm, lambda e: getattr(e, call)(bad, sample_weight=weight),
                                   gmm_outputs(X3), error, match)
            if call == "partial_fit" and bad.shape[1] != X3.shape[1]:
                continue  # a fresh estimator accepts any n_features
            fresh = make_gmm(backend, cov_type)
            assert_fails_and_keeps(fresh, lambda e: getattr(e, call)(bad, sample_weight=weight),
                                   None, error, match)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_gmm_nan_from_kernel_is_an_error_and_keeps_the_model(backend, cov_type, X3):
    """The 2nd E-step call returns NaN statistics or a NaN entropy term."""
    ns = require_backend(backend, "gmm")
    for call in ("fit", "partial_fit"):
        for est in (make_gmm(backend, cov_type).fit(X3), make_gmm(backend, cov_type)):
            at = 2 if call == "fit" else 1  # partial_fit makes one E-step call
            for output in (6, ("return", 1)):
                assert_fails_and_keeps(est, lambda e: getattr(e, call)(X3), gmm_outputs(X3),
                                       FloatingPointError, "NaN or infinite",
                                       lambda: faulty(ns, "gmm_e_step", at, output))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("call, fitted", CALLS_ON, ids=CALLS_ON_IDS)
def test_gmm_every_kernel_fault_keeps_the_model_or_a_finite_one(backend, cov_type, call,
                                                                  fitted, X3):
    ns = require_backend(backend, "gmm")
    est = make_gmm(backend, cov_type, init_params="random_from_data")  # no KMeans per trial
    if fitted:
        est.fit(X3)
    raised = inject_every_fault(est, lambda e: getattr(e, call)(X3), gmm_outputs(X3), ns,
                                GMM_OUTPUTS)
    assert raised > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_gmm_warm_start_and_n_init_every_kernel_fault(backend, X3):
    ns = require_backend(backend, "gmm")
    warm = make_gmm(backend, "full", warm_start=True, prune_tol=1.0).fit(X3)
    assert inject_every_fault(warm, lambda e: e.fit(X3), gmm_outputs(X3), ns, GMM_OUTPUTS) > 0
    multi = make_gmm(backend, "diag", n_init=2, init_params="random").fit(X3)
    assert inject_every_fault(multi, lambda e: e.fit(X3), gmm_outputs(X3), ns, GMM_OUTPUTS) > 0


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_gmm_interrupt_in_the_m_step_keeps_previous_state(cov_type, X3, monkeypatch):
    """Moved from test_mixture.py: an interrupt in a later M-step of a refit with other
    parameters and data; now every attribute (tuples of arrays included) is compared."""
    est = make_gmm("numpy", cov_type).fit(X3)
    original = G.m_step
    calls = {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 3:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    est.set_params(n_components=4)
    monkeypatch.setattr(G, "m_step", failing)
    assert_fails_and_keeps(est, lambda e: e.fit(X3[:, :2]), gmm_outputs(X3), KeyboardInterrupt)
    assert est.n_features_in_ == 3
    assert isinstance(est.weight_concentration_, tuple)  # compared too


@pytest.mark.parametrize("call", ["fit", "partial_fit"])
def test_gmm_interrupt_while_publishing_keeps_the_model(call, X3, monkeypatch):
    """An interrupt in the middle of _commit (after weight_concentration_ is assigned)."""
    est = make_gmm("numpy", "full").fit(X3)

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(G, "mixing_weights", interrupted)
    assert_fails_and_keeps(est, lambda e: getattr(e, call)(X3), gmm_outputs(X3),
                           KeyboardInterrupt)
    assert_fails_and_keeps(make_gmm("numpy", "full"), lambda e: getattr(e, call)(X3), None,
                           KeyboardInterrupt)


def test_gmm_predict_after_failure_matches_a_model_never_refitted(X3):
    """The kept model is the fitted one, not merely equal-looking: it predicts like a twin."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = make_gmm("numba", "full").fit(X3)
        b = make_gmm("numba", "full").fit(X3)
    with faulty(require_backend("numba", "gmm"), "gmm_e_step", 1, ("return", 1)):
        with pytest.raises(FloatingPointError):
            a.partial_fit(X3)
    a.partial_fit(X3[:50])
    b.partial_fit(X3[:50])
    assert_state_equal(snapshot_state(b), snapshot_state(a))
