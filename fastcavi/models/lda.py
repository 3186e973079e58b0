"""LDA's array code, at its former path: now :mod:`fastcavi.lda.model`,
:mod:`fastcavi.lda.corpus` and :mod:`fastcavi.lda.prior`."""

from ..lda.corpus import CsrCorpus
from ..lda.model import LocalResult, e_step, exp_topic_word_columns
from ..lda.prior import sum_elogtheta, update_dirichlet_prior

__all__ = ["CsrCorpus", "LocalResult", "e_step", "exp_topic_word_columns", "sum_elogtheta",
           "update_dirichlet_prior"]
