"""Typed, frozen settings for each model stage: features, sampling, architecture, training, align.

The CLI fills them from flags; nothing here reads the environment. Every field that changes what
the model computes is frozen into the artifact's JSON config, so a loaded model re-creates the
exact features, samples and layers it was trained with.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FeatureSettings(_Frozen):
    """Level-0 features: hashed character n-grams of names and attributes, numbers, type."""

    name_dim: int = Field(512, ge=16, description="Hash buckets for name character n-grams.")
    attr_dim: int = Field(256, ge=16, description="Hash buckets for attribute key/value n-grams.")
    numeric_dim: int = Field(16, ge=1, description="Hash buckets for numeric/date attributes.")
    ngram_min: int = Field(2, ge=1, description="Shortest character n-gram.")
    ngram_max: int = Field(4, ge=1, description="Longest character n-gram.")
    inferred_types: int = Field(
        16, ge=1, description="Clusters of relation signatures used as types when none are given."
    )
    name_block: Literal["own", "permuted"] = Field(
        "own", description="How the fixed own-names block holds a name's n-gram weights: "
        "'own', each under its own column; 'permuted', as every artifact trained before "
        "decision 0101 read them (each name's weights moved among its own columns by an "
        "in-place sort, decision 0095). An artifact without this field is read 'permuted'."
    )


class SamplingSettings(_Frozen):
    """Deterministic relation-aware neighbour sampling (weighted bottom-k, hash-derived keys)."""

    fanout: int = Field(10, ge=1, description="Neighbours kept per node and hop.")
    seed: int = Field(0, description="Salt of the hash keys; frozen into the artifact.")


#: Fixed structural blocks (``model/structure.py`` kinds) when ``structure_dim`` is on.
STRUCTURE_BLOCKS = 8
class ArchitectureSettings(_Frozen):
    """Shape of the CG-MuAlign encoder.

    ``skip_widths`` left out: the names track's measured split (112, 64, 32) when the fixed
    blocks are the default three (names, 1-hop names, neighbour anchors); any other layout
    keeps its raw blocks — projected to 26 floats each the structure-only track lost a third of
    its validation Hits@1 (decision 0015); ``structure_joint`` with one width projects the eight
    structural blocks into one shared block instead (``stream-align train --hide-names``
    default, decision 0037).
    """

    hidden_dim: int = Field(16, ge=8, description="Width of every layer output (even).")
    self_attention: bool = Field(True, description="Relation-aware self-attention β (ablation).")
    cross_attention: bool = Field(True, description="Cross-graph attention α in the pair scorer.")
    use_anchors: bool = Field(
        True, description="Seed pairs as shared level-0 anchor embeddings (structure signal)."
    )
    name_skip: bool = Field(
        True, description="Raw name n-gram vectors appended to the embedding (name fallback)."
    )
    anchor_skip_dim: int = Field(
        1024, ge=0,
        description="Hashed buckets of the fixed 'which seed anchors are my neighbours' block "
        "(0: off).",
    )
    name_skip_hops: int = Field(
        1, ge=0, le=3,
        description="Also append the mean raw name vector of the sampled 1..h-hop neighbours.",
    )
    structure_dim: int = Field(
        0, ge=0,
        description="Hashed buckets of each fixed structural block (anchors and relations over "
        "the 2-hop sample, see model/structure.py); 0: off.",
    )
    skip_widths: tuple[Annotated[int, Field(ge=1)], ...] | None = Field(
        None,
        description="Width of each fixed block in the retrieval vector after its projection, "
        "in block order (names per hop, neighbour anchors, structural blocks); None: the raw "
        "width (no projection; artifacts from before decision 0015).",
    )
    learn_projection: bool = Field(
        True, description="Train the fixed blocks' projections (initialised at a signed "
        "fold, i.e. feature hashing into the narrower width); False: keep the fold.",
    )
    structure_joint: bool = Field(
        False, description="Project the eight structural blocks into one shared block (their "
        "projections summed, then unit) of the last ``skip_widths`` width, instead of one "
        "block each (decision 0037).",
    )

    @property
    def fixed_blocks(self) -> int:
        """How many fixed blocks follow the learnt ``h0, h1, h2`` in the retrieval vector."""
        names = self.name_skip_hops + 1 if self.name_skip else 0
        anchors = 1 if self.use_anchors and self.anchor_skip_dim else 0
        structure = STRUCTURE_BLOCKS if self.use_anchors and self.structure_dim else 0
        if structure and self.structure_joint:
            structure = 1
        return names + anchors + structure

    @model_validator(mode="before")
    @classmethod
    def _default_widths(cls, data: object) -> object:
        if isinstance(data, dict) and "skip_widths" not in data:
            n = cls(**{**data, "skip_widths": None, "structure_joint": False}).fixed_blocks
            data = {**data, "skip_widths": (112, 64, 32) if n == 3 else None}
        return data

    @model_validator(mode="after")
    def _check_widths(self) -> ArchitectureSettings:
        if self.skip_widths is not None and len(self.skip_widths) != self.fixed_blocks:
            raise ValueError(f"skip_widths has {len(self.skip_widths)} entries for "
                             f"{self.fixed_blocks} fixed blocks")
        if self.structure_joint and (self.skip_widths is None or not self.structure_dim):
            raise ValueError("structure_joint needs structural blocks and skip_widths")
        return self


class TrainSettings(_Frozen):
    """Optimisation: seed pairs, negatives, loss, early stopping."""

    loss: Literal["hinge", "bce"] = Field("hinge", description="Margin hinge on L2 or BCE.")
    margin: float = Field(0.3, gt=0, description="Hinge margin on L2 distance of unit vectors.")
    epochs: int = Field(
        2, ge=1, description="Upper bound on passes over the seed pairs (the best validation "
        "epoch on DBP15K is the first or second: decision 0016), raised to reach min_steps.")
    min_steps: int = Field(
        16, ge=1, description="Optimisation steps the epoch bound allows at least (small "
        "datasets have one step per epoch).")
    batch_size: int = Field(512, ge=1, description="Seed pairs per optimisation step.")
    negatives: int = Field(10, ge=1, description="Negatives drawn from each graph per positive.")
    hard_negatives: bool = Field(True, description="Draw negatives from retrieval top-k.")
    hard_pool: int = Field(30, ge=2, description="Retrieval top-k the hard negatives come from.")
    pool_every: int = Field(3, ge=1, description="Epochs between hard-negative pool refreshes.")
    learning_rate: float = Field(5e-3, gt=0, description="Adam learning rate.")
    projection_epochs: int = Field(
        0, ge=0, description="Passes over the seed pairs that pre-fit the fixed blocks' "
        "projections alone (contrastive, model/projection_fit.py) before the epochs; 0: none.")
    bootstrap_csls_k: int = Field(
        0, ge=0, description="Self-training pairs are mutual best by CSLS with hub scores over "
        "this many best matches (decision 0041); 0: by plain inner product.")
    bootstrap_by_head: bool = Field(
        False, description="Self-training pairs are mutual best by the pair head (fitted on the "
        "validation pairs each round) among each free entity's retrieval candidates, instead "
        "of by the retrieval vector (decision 0049).")
    bootstrap_rechoose: bool = Field(
        False, description="Each self-training round chooses every pseudo pair again among "
        "the entities that are not seed anchors (the previous round's pseudo anchors as "
        "context), instead of only adding pairs of still free entities (decision 0052).")
    bootstrap_guard: Literal["strict", "sign-test"] = Field(
        "sign-test", description="When a self-training round counts as worse and is undone: "
        "'sign-test', more validation pairs lost than gained beyond chance (McNemar's exact "
        "test, one-sided 5 %; decision 0056), on both tracks since decision 0117: a one-pair "
        "fall in a few hundred validation pairs is chance; 'strict', any fall of validation "
        "Hits@1."
    )
    refit_epochs: int = Field(
        0, ge=0, description="Passes of the same contrastive fit of the fixed blocks' "
        "projections after each self-training round, on the seed and pseudo anchors together "
        "(decision 0041); 0: none.")
    weight_decay: float = Field(0.0, ge=0, description="Adam weight decay.")
    patience: int = Field(1, ge=1, description="Epochs without valid Hits@1 gain before stop.")
    pair_batch: int = Field(
        256, ge=1, description="Positives of each batch that also train the pair scorer."
    )
    pair_loss_weight: float = Field(
        1.0, ge=0, description="Weight of the cross-attention pair loss next to retrieval."
    )
    bootstrap_rounds: int = Field(
        0, ge=0, description="Rounds of self-training after the epochs: mutual nearest "
        "non-anchor entities become frozen anchors (model/bootstrap.py)."
    )
    seed: int = Field(0, description="Seed of initialisation, batching and negatives.")
    threads: int = Field(2, ge=1, description="torch CPU threads (and FAISS's for the IVF "
                         "ladder's large k-means, decision 0084).")
    time_limit_s: float = Field(540.0, gt=0, description="Stop training after this many seconds.")
    progress: bool = Field(True, description="Show a tqdm progress bar.")


class AlignSettings(_Frozen):
    """Batch alignment: retrieval, re-ranking and the one-to-one decision."""

    candidates: int = Field(10, ge=1, description="FAISS candidates re-ranked per entity.")
    csls_depth: int = Field(
        20, ge=1, description="Retrieval list depth CSLS re-ranks to pick the candidates "
        "(the engine's csls_depth; at least candidates)."
    )
    csls_k: int = Field(
        3, ge=0, description="CSLS hubness correction of retrieval (decision 0036): hub score = "
        "mean of an entity's csls_k best retrieval scores; 0: plain inner products."
    )
    anchor_candidates: int = Field(
        10, ge=0, description="Candidates per entity, both directions, also taken by shared "
        "anchors among the sampled neighbours (decision 0045); 0: retrieval alone."
    )
    anchor_fanout: int = Field(
        64, ge=1, description="An anchor sampled by more entities than this on either side "
        "(a hub) gives no shared-anchor candidates; bounds the work per anchor."
    )
    threshold: float = Field(0.5, description="Minimum pair score for a match.")
    unnamed_threshold: float | None = Field(
        None, description="Minimum pair score for a match where either entity has no name "
        "(structure-only evidence); None: threshold."
    )
    unnamed_margin: float | None = Field(
        None, ge=0, description="Where either entity has no name, a match must also score this "
        "much above the best other candidate pair of either entity; None: no margin."
    )
    neighbourhood_rounds: int = Field(
        0, ge=0, description="Where > 0, pairs of unnamed entities are matched by their "
        "relation-consistent aligned neighbours instead of by score, in this many rounds of "
        "self-training (engine/neighbourhood.py, decision 0025); 0: by score."
    )
    neighbourhood_named: bool = Field(
        False, description="With neighbourhood_rounds: named entities with no anchor are "
        "matched by their neighbours too (decision 0057)."
    )
    neighbourhood_csls: bool = Field(
        False, description="With neighbourhood_rounds: a support tie goes to a pair at the "
        "threshold only where its CSLS over the candidate pairs (csls_k) is positive too "
        "(decision 0057)."
    )
    neighbourhood_fanout: int = Field(
        64, ge=1, description="Anchors with more neighbours than this on either side (hubs) "
        "give neighbourhood evidence only through their small relation groups "
        "(neighbourhood_group_fanout); bounds the work per anchor."
    )
    neighbourhood_group_fanout: int = Field(
        16, ge=0, description="A hub anchor supports a pair through a relation group (its "
        "neighbours by one relation in one direction) of at most this many on each side "
        "(decision 0040); 0: hubs give no evidence."
    )
    evidence: int = Field(3, ge=0, description="Neighbour pairs reported as evidence per match.")
