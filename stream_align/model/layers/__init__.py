"""CG-MuAlign layers (Zhu et al., WWW 2020), one per module, on padded neighbour tables.

Neighbourhoods are dense ``(rows, k)`` tables (k = sampling fan-out) rather than edge lists:
the cross-graph attention compares *every* neighbour of ``i`` with every neighbour of ``i′``,
a ``k × k`` block per candidate pair, which a padded layout batches directly.
"""

from stream_align.model.layers.collective_agg import CollectiveAggLayer
from stream_align.model.layers.cross_attention import cross_attention
from stream_align.model.layers.mean_agg import RelationalMeanLayer
from stream_align.model.layers.relation_transform import RelationTransform

__all__ = ["CollectiveAggLayer", "RelationTransform", "RelationalMeanLayer", "cross_attention"]
