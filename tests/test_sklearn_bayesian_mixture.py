"""scikit-learn's ``mixture/tests/test_bayesian_mixture.py``, run against
:class:`fastcavi.BayesianGaussianMixture` (see ``sklearn_upstream.py``)."""

from sklearn_upstream import load_upstream

from fastcavi import BayesianGaussianMixture

globals().update(load_upstream(
    "mixture/tests/test_bayesian_mixture.py",
    BayesianGaussianMixture,
    "from sklearn.mixture import BayesianGaussianMixture",
    xfail={
        "test_compare_covar_type": (
            "calls scikit-learn's private BaseMixture._check_parameters and "
            "_initialize_parameters, which fastcavi's mixture (fastcavi/mixture/) "
            "does not have"),
    },
))
