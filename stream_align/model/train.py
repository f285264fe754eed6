"""Training on seed pairs: retrieval and pair (cross-attention) losses, hard negatives, early stop.

Every step encodes both graphs in full (sampled neighbourhoods cap the work at ``k`` edges per
node: about 0.4M messages for DBP15K) and takes the loss on a mini-batch of seed pairs, each
with ``negatives`` corrupted targets from graph B and as many corrupted sources from graph A.
The seed pairs of the batch have their anchor embedding hidden, so the model learns to align
from names and neighbours — what test entities have — rather than from their own anchor id.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from stream_align.graph import GraphPair
from stream_align.model.bootstrap import bootstrap
from stream_align.model.bundle import ModelBundle
from stream_align.model.encoder import CGMuAlign
from stream_align.model.inputs import GraphInputs, anchor_pairs, fit_frozen
from stream_align.model.pair_fit import fit_pair_head
from stream_align.model.projection_fit import prefit_projection
from stream_align.model.ranking import hits_at_1, topk
from stream_align.model.readout import pair_logits, retrieval_vectors, row_vectors
from stream_align.model.round_guard import changed, round_is_worse
from stream_align.model.settings import (
    ArchitectureSettings,
    FeatureSettings,
    SamplingSettings,
    TrainSettings,
)

log = logging.getLogger(__name__)


@dataclass
class TrainReport:
    """How training went: per-epoch validation Hits@1, the best epoch, wall time."""

    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = -1
    best_valid_hits1: float = -1.0
    seconds: float = 0.0
    bootstrap_added: list[int] = field(default_factory=list)
    valid_hits1_after_bootstrap: float | None = None
    projection_loss: list[float] = field(default_factory=list)


def _negatives(pool: torch.Tensor | None, positives: torch.Tensor, count: int, n: int,
               gen: torch.Generator) -> torch.Tensor:
    """``(B, count)`` corrupted entities: from the hard pool rows, else uniform."""
    if pool is None:
        return torch.randint(0, n, (len(positives), count), generator=gen)
    cols = torch.randint(0, pool.shape[1], (len(positives), count), generator=gen)
    picked = pool.gather(1, cols)
    clash = picked == positives.unsqueeze(1)
    return torch.where(clash, torch.randint(0, n, picked.shape, generator=gen), picked)


def group_loss(logits: torch.Tensor, settings: TrainSettings) -> torch.Tensor:
    """``logits`` ``(B, 1 + m)``: column 0 the positive. Hinge on L2 of unit vectors, or BCE."""
    if settings.loss == "hinge":
        dist = torch.sqrt((2 - 2 * logits).clamp(min=1e-9))  # ‖a − b‖ of unit vectors
        return F.relu(settings.margin + dist[:, :1] - dist[:, 1:]).mean()
    target = torch.zeros_like(logits)
    target[:, 0] = 1.0
    weight = torch.ones_like(logits)
    weight[:, 1:] = 1.0 / (logits.shape[1] - 1)  # as much weight on negatives as on positives
    return F.binary_cross_entropy_with_logits(logits, target, weight=weight) * 2


class Trainer:
    """One training run; holds the model, the inputs of both graphs and the seed pairs."""

    def __init__(self, pair: GraphPair, bundle: ModelBundle) -> None:
        self.bundle, self.settings = bundle, bundle.train
        self.ga: GraphInputs = bundle.inputs(pair.a)
        self.gb: GraphInputs = bundle.inputs(pair.b)
        self.train_pairs = torch.from_numpy(pair.train)
        self.valid_pairs = torch.from_numpy(pair.valid)
        self.gen = torch.Generator().manual_seed(self.settings.seed)
        self.opt = torch.optim.Adam(bundle.net.parameters(), lr=self.settings.learning_rate,
                                    weight_decay=self.settings.weight_decay)

    @torch.no_grad()
    def _embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        net = self.bundle.net
        return (retrieval_vectors(net, self.ga, net.encode(self.ga), query=True),
                retrieval_vectors(net, self.gb, net.encode(self.gb), query=False))

    def _pools(self, qa: torch.Tensor, eb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k = self.settings.hard_pool
        src, tgt = self.train_pairs[:, 0], self.train_pairs[:, 1]
        return topk(qa[src], eb, k), topk(eb[tgt], qa, k)

    def _step(self, idx: torch.Tensor, pools: tuple[torch.Tensor, torch.Tensor] | None) -> float:
        s, net = self.settings, self.bundle.net
        a, b = self.train_pairs[idx, 0], self.train_pairs[idx, 1]
        neg_b = _negatives(None if pools is None else pools[0][idx], b, s.negatives, self.gb.n,
                           self.gen)
        neg_a = _negatives(None if pools is None else pools[1][idx], a, s.negatives, self.ga.n,
                           self.gen)
        enc_a, enc_b = net.encode(self.ga, hide=a), net.encode(self.gb, hide=b)
        ia = torch.cat([a.unsqueeze(1), a.unsqueeze(1).expand_as(neg_b), neg_a], 1)
        ib = torch.cat([b.unsqueeze(1), neg_b, b.unsqueeze(1).expand_as(neg_a)], 1)
        logits, _ = pair_logits(net, self.ga, enc_a, ia.reshape(-1), self.gb, enc_b,
                                ib.reshape(-1), cross=False)
        loss = group_loss(logits.reshape(ia.shape), s)
        if s.pair_loss_weight > 0 and net.arch.cross_attention:
            # The pair scorer (without α it is the retrieval score: nothing more to train); a
            # sub-batch keeps the k × k blocks cheap.
            ia, ib = ia[: s.pair_batch], ib[: s.pair_batch]
            logits, _ = pair_logits(net, self.ga, enc_a, ia.reshape(-1), self.gb, enc_b,
                                    ib.reshape(-1), cross=True)
            loss = loss + s.pair_loss_weight * group_loss(logits.reshape(ia.shape), s)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return float(loss.detach())

    def run(self) -> TrainReport:
        s, report, start = self.settings, TrainReport(), time.monotonic()
        best_state = {k: v.clone() for k, v in self.bundle.net.state_dict().items()}
        steps = -(-len(self.train_pairs) // s.batch_size)
        epochs = max(s.epochs, -(-s.min_steps // steps))
        bar = tqdm(total=epochs * steps, desc="train", unit="step", disable=not s.progress)
        if s.projection_epochs:
            bar.set_postfix(stage="projection pre-fit")
            report.projection_loss = prefit_projection(
                self.bundle.net, self.ga, self.gb, self.train_pairs, s.projection_epochs,
                s.batch_size, self.gen)
            if report.projection_loss:
                bar.set_postfix(projection_loss=f"{report.projection_loss[-1]:.4f}")
            log.info("projection pre-fit loss %s", report.projection_loss)
        emb = self._embeddings() if s.hard_negatives else None
        pools = None
        for epoch in range(epochs):
            if s.hard_negatives and epoch % s.pool_every == 0:
                pools = self._pools(*emb)
            emb = None  # two n × D matrices: not held through the steps
            order = torch.randperm(len(self.train_pairs), generator=self.gen)
            losses = []
            for idx in order.split(s.batch_size):
                losses.append(self._step(idx, pools))
                bar.update()
            emb = self._embeddings()  # validation now, hard-negative pools next epoch
            valid = hits_at_1(*emb, self.valid_pairs)
            if not (s.hard_negatives and (epoch + 1) % s.pool_every == 0):
                emb = None
            report.history.append({"epoch": epoch, "loss": float(np.mean(losses)),
                                   "valid_hits1": valid, "seconds": time.monotonic() - start})
            bar.set_postfix(epoch=epoch, loss=f"{np.mean(losses):.4f}", valid_h1=f"{valid:.4f}")
            log.info("epoch %d loss %.4f valid Hits@1 %.4f", epoch, np.mean(losses), valid)
            if valid > report.best_valid_hits1:
                report.best_epoch, report.best_valid_hits1 = epoch, valid
                best_state = {k: v.clone() for k, v in self.bundle.net.state_dict().items()}
            elapsed = time.monotonic() - start
            last = elapsed - (report.history[-2]["seconds"] if len(report.history) > 1 else 0.0)
            if epoch - report.best_epoch >= s.patience or elapsed + last > s.time_limit_s:
                break  # no epoch is started that would end past the time limit
        bar.total = bar.n  # early stopping ends the run: show it complete
        bar.close()
        self.bundle.net.load_state_dict(best_state)
        report.seconds = time.monotonic() - start
        return report


@torch.no_grad()
def valid_right(bundle: ModelBundle, pair: GraphPair,
                inputs: tuple[GraphInputs, GraphInputs] | None = None) -> np.ndarray:
    """Per validation pair, whether its source ranks its target first among all of graph B,
    building only the valid sources' vectors on the A side (``inputs``: both graphs', when the
    caller has them)."""
    net = bundle.net
    ga, gb = inputs or (bundle.inputs(pair.a), bundle.inputs(pair.b))
    valid = torch.from_numpy(pair.valid)
    if not len(valid):
        return np.zeros(0, dtype=bool)
    qa = row_vectors(net, ga, net.encode(ga), valid[:, 0], query=True)
    eb = retrieval_vectors(net, gb, net.encode(gb), query=False)
    return (topk(qa, eb, 1)[:, 0] == valid[:, 1]).numpy()


def train(pair: GraphPair, train_settings: TrainSettings,
          arch: ArchitectureSettings | None = None, features: FeatureSettings | None = None,
          sampling: SamplingSettings | None = None) -> tuple[ModelBundle, TrainReport]:
    """Fit frozen statistics on ``pair``'s graphs, then train on its train split."""
    torch.set_num_threads(train_settings.threads)
    torch.manual_seed(train_settings.seed)
    arch = arch or ArchitectureSettings()
    frozen = fit_frozen(pair, features or FeatureSettings(), sampling or SamplingSettings())
    bundle = ModelBundle(net=CGMuAlign(frozen, arch, train_settings.loss), frozen=frozen, arch=arch,
                         train=train_settings)
    trainer = Trainer(pair, bundle)
    report = trainer.run()
    bundle.net.eval()
    inputs = trainer.ga, trainer.gb
    del trainer  # its pools and optimiser state
    start = time.monotonic()
    if train_settings.bootstrap_rounds:
        inputs = _guarded_bootstrap(bundle, pair, report, train_settings.bootstrap_rounds,
                                    inputs)
    bundle.pair_head = fit_pair_head(bundle, pair, inputs)
    report.seconds += time.monotonic() - start
    return bundle, report


def _guarded_bootstrap(bundle: ModelBundle, pair: GraphPair, report: TrainReport,
                       rounds: int, inputs: tuple[GraphInputs, GraphInputs]
                       ) -> tuple[GraphInputs, GraphInputs]:
    """Self-training rounds, each kept unless validation got worse (``round_guard``: by
    default a fall beyond chance, decisions 0056, 0117; ``strict``: any fall): the same model
    selection as the epochs'. On DBP15K a round adds ~12,000 mostly right pairs; on product tables
    (Amazon–Google) near-duplicate names make many wrong, and validation fell 0.60 → 0.52
    unguarded (decision 0016). A round is compared with the best state kept so far, so rounds
    inside the noise cannot drift down one after another. Returns both graphs' inputs under
    the anchors kept."""
    right, net = valid_right(bundle, pair, inputs), bundle.net
    best = right  # the best state kept: a later round is measured against it
    seeds = len(bundle.frozen.anchors) if bundle.train.bootstrap_rechoose else None
    for _ in range(rounds):
        start = len(bundle.frozen.anchors) if seeds is None else seeds
        pseudo, embedding = bundle.frozen.anchors[start:], net.anchor_emb  # what a round replaces
        projections = [p.detach().clone() for p in net.skip_proj]
        added = bootstrap(bundle, pair, 1, inputs, seeds)[0]
        inputs = bundle.inputs(pair.a), bundle.inputs(pair.b)
        if bundle.train.refit_epochs:
            report.projection_loss += prefit_projection(
                net, *inputs, anchor_pairs(*inputs, len(bundle.frozen.anchors)),
                bundle.train.refit_epochs, bundle.train.batch_size,
                torch.Generator().manual_seed(bundle.train.seed + len(report.bootstrap_added)))
        after = valid_right(bundle, pair, inputs)
        lost, gained = changed(best, after)
        verdict = (f"valid Hits@1 {_mean(after):.4f} against {_mean(best):.4f} ({lost} lost, "
                   f"{gained} gained; {bundle.train.bootstrap_guard})")
        if round_is_worse(best, after, bundle.train.bootstrap_guard):
            bundle.frozen.set_anchors(start, pseudo)
            _restore(net, embedding, projections)
            log.info("bootstrap round dropped: %s", verdict)
            del inputs  # built with the dropped anchors; one graph's inputs at a time
            inputs = bundle.inputs(pair.a), bundle.inputs(pair.b)
            break
        log.info("bootstrap round kept: %s", verdict)
        right = after
        best = after if _mean(after) >= _mean(best) else best
        report.bootstrap_added.append(added)
    report.valid_hits1_after_bootstrap = _mean(right)
    return inputs


@torch.no_grad()
def _restore(net: CGMuAlign, embedding: torch.nn.Embedding,
             projections: list[torch.Tensor]) -> None:
    """The anchor embedding and projections a dropped round started from."""
    net.anchor_emb = embedding
    for p, old in zip(net.skip_proj, projections, strict=True):
        p.copy_(old)


def _mean(right: np.ndarray) -> float:
    return float(right.mean()) if len(right) else 0.0
