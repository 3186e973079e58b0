"""LatentDirichletAllocation(verbose=...) prints scikit-learn's lines, then fastcavi's figures.

scikit-learn prints ``iteration: %d of max_iter: %d`` after every pass and
``iteration: %d of max_iter: %d, perplexity: %.4f`` instead on the passes
where it evaluates the perplexity (``evaluate_every``), the last one too when
the perplexity rule stops the fit. fastcavi prints the same line, one per
pass, followed by its pass ELBO and throughput.
"""

import re

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.decomposition import LatentDirichletAllocation as SkLDA

from fastcavi import LatentDirichletAllocation

SKLEARN_LINE = re.compile(r"iteration: (\d+) of max_iter: (\d+)(?:, perplexity: (\d+\.\d{4}))?")
FASTCAVI_TAIL = re.compile(r", elbo: -?[\d.e+-]+, [\d.e+-]+ tokens/s")


def fit_output(estimator, X, capsys):
    capsys.readouterr()
    estimator.fit(X)
    out = capsys.readouterr().out
    return out.splitlines(), estimator


@pytest.fixture(scope="module")
def corpus():
    rng = np.random.RandomState(0)
    return sp.csr_matrix(rng.poisson(1.0, size=(40, 12)).astype(float))


@pytest.mark.parametrize("learning_method", ["batch", "online"])
@pytest.mark.parametrize("verbose, evaluate_every, perp_tol", [
    (0, 1, 0.0), (1, 0, 0.0), (1, 1, 0.0), (1, 2, 0.0),
    (1, 1, 1e3),  # stops at the second evaluation, after printing it
])
def test_verbose_lines_are_sklearns(corpus, capsys, learning_method, verbose, evaluate_every,
                                    perp_tol):
    kw = dict(n_components=3, max_iter=4, learning_method=learning_method, batch_size=16,
              verbose=verbose, evaluate_every=evaluate_every, perp_tol=perp_tol,
              random_state=0)
    sk_lines, sk = fit_output(SkLDA(**kw), corpus, capsys)
    fc_lines, fc = fit_output(LatentDirichletAllocation(**kw), corpus, capsys)
    assert fc.n_iter_ == sk.n_iter_ == (1 if perp_tol > 1 else 4)
    assert len(fc_lines) == len(sk_lines) == (0 if not verbose else min(4, sk.n_iter_ + 1))
    for fc_line, sk_line in zip(fc_lines, sk_lines):
        sk_match = SKLEARN_LINE.fullmatch(sk_line)
        assert sk_match, f"scikit-learn's line changed: {sk_line!r}"
        fc_match = SKLEARN_LINE.match(fc_line)
        assert fc_match, fc_line
        assert fc_match.group(1, 2) == sk_match.group(1, 2), (fc_line, sk_line)
        assert (fc_match.group(3) is None) == (sk_match.group(3) is None), (fc_line, sk_line)
        if sk_match.group(3) is not None:  # printed to 4 decimals; values agree to 1e-6
            np.testing.assert_allclose(float(fc_match.group(3)), float(sk_match.group(3)),
                                       rtol=1e-6, atol=1e-4)
        assert FASTCAVI_TAIL.fullmatch(fc_line[fc_match.end():]), fc_line
