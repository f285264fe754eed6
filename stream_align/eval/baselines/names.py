"""Names alone: character n-gram TF-IDF cosine, the learning-free floor every method must beat.

The vectoriser (``char_wb``, 2–4-grams, scikit-learn defaults otherwise: smooth IDF, sublinear
TF off, L2-normalised rows) is fitted on the names of *both* graphs, so an n-gram's IDF reflects
the whole corpus. On a name-blind track every name is empty: the features are zero-width and
every score is 0 — names alone is meaningless there, and the ranking metrics (pessimistic ties)
say so.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from stream_align.eval.baselines.factored import FactoredScorer
from stream_align.graph import GraphPair

NGRAMS = (2, 4)


def name_features(pair: GraphPair) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """L2-normalised TF-IDF rows for the names of graph A and graph B (shared vocabulary)."""
    names_a, names_b = pair.a.names, pair.b.names
    if not any(names_a) and not any(names_b):
        empty = np.float32
        return (sp.csr_matrix((len(names_a), 0), dtype=empty),
                sp.csr_matrix((len(names_b), 0), dtype=empty))
    vectoriser = TfidfVectorizer(analyzer="char_wb", ngram_range=NGRAMS, dtype=np.float32)
    vectoriser.fit(names_a + names_b)
    return vectoriser.transform(names_a), vectoriser.transform(names_b)


def names_scorer(pair: GraphPair) -> FactoredScorer:
    """Fit the names-alone baseline on ``pair``."""
    return FactoredScorer("names", *name_features(pair))
