"""Settings of the incremental alignment engine: one frozen model, filled by the service's config.

Nothing here reads the environment; the service validates its configuration and passes this in.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class EngineSettings(BaseModel):
    """Retrieval, decision and work-bound knobs of :class:`AlignmentEngine`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    graph_ids: tuple[str, str] = Field(
        default=("A", "B"),
        description="Store ids of the left and right graph (the model's graphs A and B).",
    )
    top_k: int = Field(default=10, ge=1, description="FAISS candidates per entity, each way.")
    candidate_reserve: int = Field(
        default=20, ge=0,
        description=("Entities kept per candidate list beyond top_k, so a list whose members "
                     "moved is usually repaired in place instead of searched again."),
    )
    csls_k: int = Field(
        default=3, ge=0,
        description=("CSLS hubness correction of the candidates (decision 0036): each list "
                     "(top_k + candidate_reserve by inner product) is re-ranked by "
                     "2·s − r(member), r = mean of the member's csls_k best scores, and its "
                     "first top_k are the candidates. 0: the first top_k by inner product."),
    )
    csls_depth: int = Field(
        default=20, ge=1,
        description=("Entries of each list that CSLS re-ranks (top_k ≤ csls_depth ≤ top_k + "
                     "candidate_reserve): lists are kept exact to this depth, the reserve "
                     "beyond it lets a repair skip the search."),
    )
    anchor_candidates: int = Field(
        default=10, ge=0,
        description=("Candidates per entity, each way, also taken by shared anchors: the "
                     "entities of the other graph sampling the most partners of the anchors "
                     "among its own sampled neighbours (decision 0045; kept per sample change, "
                     "40 B an entity). 0: retrieval alone."),
    )
    anchor_fanout: int = Field(
        default=64, ge=1,
        description=("An anchor sampled by more entities than this on either side (a hub) "
                     "gives no shared-anchor candidates; bounds the rows one moved anchor "
                     "re-reads (2·(anchor_fanout + 1)) and the pool of a row."),
    )
    rebuild_share: float = Field(
        default=0.5, gt=0, le=1,
        description=("Share of all indexed vectors recomputed in one batch from which every "
                     "candidate list is rebuilt from one exact pass (both directions from the "
                     "same products) instead of repaired list by list. DBP15K zh_en, CPU per "
                     "batch: a repair of 24 % and of 47 % of the vectors cost 2.8 and 5.6 s, "
                     "a rebuild 6.4 and 7.6 s, with the same lists (decision 0055; 0.15 "
                     "until then, when a repair cost ≈ 3.5 ms per changed vector)."),
    )
    vector_tolerance: float = Field(
        default=0.0, ge=0, lt=1,
        description=("A recomputed vector whose cosine distance (1 − cos) from its indexed "
                     "version is below this keeps the indexed version, and with it its "
                     "candidate lists and pair scores (decision 0073): most of an insert's "
                     "≈ 11 recomputed vectors sit one or two sample hops from the change and "
                     "barely move. The distance is taken from the indexed version, so drift "
                     "cannot add up past the bound. Entities whose own triples or attributes "
                     "changed, and those without a vector, always get the new one. 0: every "
                     "recomputed vector is indexed (lists and scores equal a batch run's)."),
    )
    candidate_index: Literal["flat", "ivf"] = Field(
        default="flat",
        description=("Candidate search: 'flat' scores every vector of the other graph (exact; "
                     "cost grows with the graph); 'ivf' probes ivf_probe of the model's IVF "
                     "cells (sublinear; lists equal an IVF search on the same cells, decision "
                     "0012; the cells are trained with the model, so the state does not depend "
                     "on the stream's batches, decision 0080: a model trained before needs "
                     "training again). Flat until ivf_train_min vectors are indexed."),
    )
    ivf_cells: int = Field(
        default=0, ge=0,
        description=("IVF cells: one of the model's cell counts (powers of two up to 8,192, "
                     "as its training vectors allow); 0: the power of two nearest "
                     "4·sqrt(indexed vectors), at most the model's largest, moved one up "
                     "(every list rebuilt) at each 4x growth of the graphs (decisions 0068, "
                     "0080); from 262,144 indexed vectors at most 50 a cell (decision 0137)."),
    )
    ivf_probe: int = Field(default=32, ge=1, description="IVF cells each list searches.")
    ivf_float16: bool = Field(
        default=True,
        description=("IVF mode stores the vectors as half floats (FAISS QT_fp16: ≈ 650 instead "
                     "of ≈ 1,290 bytes a 256-float vector, decision 0043); lists, scans and "
                     "pair scores all read the decoded vectors, so a batch run on the same "
                     "index lists the same candidates and its pair scores differ by the "
                     "rounding (≈ 1e-4). False: float32 codes, scores equal to the batch's."),
    )
    ivf_train_min: int = Field(
        default=20_000, ge=1,
        description=("Indexed vectors (both graphs) from which IVF lists use the model's "
                     "cells (below: exact lists; see ivf_cells)."),
    )
    match_threshold: float = Field(
        default=0.5, description="Minimum pair score for a new match (mutual best only)."
    )
    unnamed_threshold: float | None = Field(
        default=None,
        description=("Minimum pair score for a new match where either entity has no name: its "
                     "score rests on structure alone (ContEA's new entities arrive unnamed). "
                     "None: match_threshold. Calibrate with benchmarks/unnamed_threshold.py."),
    )
    unnamed_margin: float | None = Field(
        default=None, ge=0,
        description=("Where either entity has no name, a new match must also score this much "
                     "above the runner-up (the best other candidate pair of either entity): "
                     "rejects ambiguous structure-only matches (decision 0026). None: no margin."),
    )
    neighbourhood_rounds: int = Field(
        default=0, ge=0,
        description=("Where > 0, pairs with an unnamed entity are not matched by score; unnamed "
                     "entities are matched by their relation-consistent aligned neighbours, in "
                     "this many rounds (each anchored on the one before: self-training), as "
                     "`stream-align align --neighbourhood-rounds` does (decisions 0025, 0035). "
                     "0: off."),
    )
    neighbourhood_named: bool = Field(
        default=False,
        description=("With neighbourhood_rounds: named entities with no anchor (their name "
                     "found no partner) are matched by their neighbours too (decision 0057)."),
    )
    neighbourhood_csls: bool = Field(
        default=False,
        description=("With neighbourhood_rounds: a support tie goes to a pair the model scores "
                     "at the match threshold only where its CSLS (2·s − r_a − r_b, r the mean of "
                     "an entity's csls_k best pair scores) is positive too (decision 0057)."),
    )
    neighbourhood_fanout: int = Field(
        default=64, ge=1,
        description=("Anchors with more neighbours than this on either side (hubs) give "
                     "neighbourhood evidence only through their small relation groups "
                     "(neighbourhood_group_fanout); bounds the work per changed anchor."),
    )
    neighbourhood_group_fanout: int = Field(
        default=16, ge=0,
        description=("A hub anchor supports a pair through a relation group (its neighbours "
                     "by one relation in one direction) of at most this many on each side "
                     "(decision 0040); 0: hubs give no evidence."),
    )
    keep_threshold: float = Field(
        default=0.5,
        description="Minimum score for an existing match to stay (hysteresis: <= match_threshold).",
    )
    min_score_delta: float = Field(
        default=0.01, ge=0, description="Score change of a kept match that is worth an event."
    )
    max_affected_per_batch: int = Field(
        default=20_000, ge=1,
        description=("Embeddings recomputed per batch at most; the rest waits in a persisted "
                     "queue and is drained by the next batches (hub bound)."),
    )
    max_held_batches: int = Field(
        default=8, ge=1,
        description=("Batches with input (changes or labels) that may recompute queued "
                     "embeddings before candidate lists, scores and decisions are refreshed, "
                     "when the work held is rebuild-sized (rebuild_share: then they wait while "
                     "the queue drains, so each list is rebuilt once per drain, not once per "
                     "batch; smaller work is refreshed in the batch that computed it). "
                     "Input-free drain calls do not count: the queue only shrinks in them "
                     "(decision 0074)."),
    )
    single_thread_below: int = Field(
        default=1024, ge=0,
        description=("Batches with fewer inputs than this (changes, labels and queued "
                     "recomputes) run torch, BLAS and FAISS on one thread: their many tiny ops "
                     "wait at every two-thread barrier while other processes hold the cores "
                     "(12x per op measured on a busy 2-core VM). 0: never."),
    )
    restore_threads: int = Field(
        default=2, ge=1, le=2,
        description=("Threads a restore runs on. 2: both graphs' mirrors, samples, vectors, "
                     "shared-anchor heads, lists and probed cells rebuilt at once (about 40 % "
                     "of a restore's CPU releases the GIL: numpy and FAISS); the same state, "
                     "0.76x the wall on free cores for about 7 % more CPU and 0.14 GB more at "
                     "the peak (80K a side), 7-12 % slower on a busy 2-core VM; both threads' "
                     "progress reports beat the liveness probe (decisions 0088, 0089). 1: one "
                     "side after the other."),
    )
    restore_warm_entities: int = Field(
        default=16_384, ge=0,
        description=("Entities per graph whose level-0 features and level-1 rows (the most "
                     "sampled first) and pair-head views (the most listed first, up to "
                     "view_cache_entries) a restore computes ahead, so the first batch after a "
                     "restart does not hash names, encode level-1 closures and build views "
                     "while its input waits (DBP15K zh_en, 218-264 inserts: ~24,000 views; "
                     "decision 0104). Bounded: the feature cache's and h1 rows of that many "
                     "entities and of their samples; at 80K a side the restore takes 1.3x its "
                     "CPU and 0.2 GB more at its peak. 0: computed at first use."),
    )
    bulk_threads: int = Field(
        default=2, ge=1, le=2,
        description=("Threads of a bulk refresh's own (batches that run on torch's threads, "
                     "see single_thread_below). 2: the candidate lists' next chunk of "
                     "products beside this chunk's column tops, the pair head's features "
                     "beside the logits (groups of 16,384 pairs or more), the events' causes "
                     "beside their evidence (4,096 events or more); the same results, the "
                     "zh_en backlog 0.89x the wall on a quiet 2-core VM; the logits and the "
                     "evidence go in shorter passes while work runs beside them, so the peak "
                     "does not rise (decision 0103); on a busy one the pair scores took about "
                     "13 % more CPU and wall (decision 0092). 1: one after the other."),
    )
    steady_threads: int = Field(
        default=2, ge=1, le=2,
        description=("Threads of a small batch's own (under single_thread_below). 2: the "
                     "lists' two sides at once (flat lists) and the anchor heads beside them, "
                     "the pair head's features beside the logits (groups of 16,384 pairs or "
                     "more); the same results, a shorter call (decision 0140). 1: serial."),
    )
    recompute_chunk: int = Field(
        default=32_768, ge=1,
        description=("Entities encoded per local closure, per side (memory bound; fewer, larger "
                     "closures share more of their neighbourhoods: 3.6 GB peak on DBP15K zh_en)."),
    )
    recompute_levelwise_from: int = Field(
        default=1024, ge=0,
        description=("Chunks of at least this many nodes (a side's share of a recompute, up "
                     "to recompute_chunk) are encoded level-wise: h0 of each node once from "
                     "its own inputs (kept a node while the queue drains, 76 bytes a node at "
                     "hidden_dim 16), h1 and the last layer from the rows below through the "
                     "samples, no local graph (decision 0095). 0: every chunk on its local "
                     "graph."),
    )
    feature_cache_entries: int = Field(
        default=2_097_152, ge=1,
        description=("Entities per graph whose hashed level-0 features and name keys stay "
                     "kept (compact arrays, least recently used out; ≈ 0.6–0.7 KB each on "
                     "DBP15K names, decision 0078). An evicted entity is hashed again when a "
                     "recompute or a pair view next reaches it: sized to hold the graph, so "
                     "an insert's cost does not grow with it."),
    )
    view_cache_entries: int = Field(
        default=16_384, ge=0,
        description=("Entities per graph whose pair-head view rows stay kept until the entity "
                     "is affected (least recently used out; ≈ 3.7 KB each on DBP15K zh_en with "
                     "the pool's slack, decision 0051). 0: every view built per scoring "
                     "group."),
    )
    pair_feature_cache: int = Field(
        default=1 << 20, ge=0,
        description=("Scored pairs whose pair-head features read from the two entities' own "
                     "names and samples stay kept while those stay (least recently used out; "
                     "49 bytes a pair; the same scores, decision 0087). 0: computed at every "
                     "re-score."),
    )
    evidence_size: int = Field(
        default=3, ge=0, description="Neighbour pairs reported as evidence per event."
    )
    max_cause_ids: int = Field(
        default=32, ge=1, description="Input ids (changes, labels) named as cause per event."
    )

    @model_validator(mode="after")
    def _hysteresis(self) -> EngineSettings:
        """A keep threshold above the match threshold would retract a match it just made."""
        if self.keep_threshold > self.match_threshold:
            raise ValueError("keep_threshold must not exceed match_threshold")
        if self.unnamed_threshold is not None and self.unnamed_threshold < self.match_threshold:
            raise ValueError("unnamed_threshold must not be below match_threshold")
        if self.csls_k and not (self.csls_k <= self.top_k <= self.csls_depth
                                <= self.top_k + self.candidate_reserve):
            raise ValueError("CSLS needs csls_k <= top_k <= csls_depth <= top_k + "
                             "candidate_reserve")
        if self.graph_ids[0] == self.graph_ids[1]:
            raise ValueError(f"graph_ids must differ, got {self.graph_ids}")
        return self
