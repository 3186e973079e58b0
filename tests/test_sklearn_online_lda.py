"""scikit-learn's ``decomposition/tests/test_online_lda.py``, run against
:class:`fastcavi.LatentDirichletAllocation` (see ``sklearn_upstream.py``)."""

from sklearn_upstream import load_upstream

from fastcavi import LatentDirichletAllocation

globals().update(load_upstream(
    "decomposition/tests/test_online_lda.py",
    LatentDirichletAllocation,
    "from sklearn.decomposition import LatentDirichletAllocation",
    xfail={
        "test_lda_preplexity_mismatch": (
            "calls scikit-learn's private _perplexity_precomp_distr(X, doc_topic_distr), "
            "which fastcavi does not have (the public perplexity is tested by "
            "test_lda_perplexity and test_lda_score_perplexity)"),
    },
))
