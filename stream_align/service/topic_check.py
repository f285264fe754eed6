"""What is wrong with the topics as they exist: compare them with the configured settings.

Pure (no broker): :func:`audit_topic` takes the planned topic and what the broker described,
and returns findings. *Errors* stop the service at start-up (a missing topic, an alignments
topic that is not compacted, a topic ``acks=all`` can never write to); *warnings* are logged
(settings that differ from the configured ones, and above all an input whose retention cannot
rebuild the state from scratch). Existing topics are never altered by stream-align.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

REBUILD_KEYS = ("cleanup.policy", "retention.ms", "retention.bytes")
CREATE_HINT = ("create it with `stream-align topics` (needs CREATE on the cluster); the service "
               "never relies on broker auto-creation")


class PlannedTopic(NamedTuple):
    """A topic of the flow as configured: its role (a ``TopicLayout`` field) and settings."""

    name: str
    role: str
    partitions: int
    replication_factor: int  # -1: the broker's default
    config: dict[str, str]

    @property
    def is_input(self) -> bool:
        """Inputs are what a lost state volume is rebuilt from."""
        return self.role in ("triples", "labels")


class TopicState(NamedTuple):
    """A topic as the broker describes it (``config`` None: its configs could not be read)."""

    partitions: int
    replication_factor: int
    config: dict[str, str] | None


class Finding(NamedTuple):
    """One problem: ``error`` stops the start-up, ``warning`` is logged."""

    level: Literal["error", "warning"]
    topic: str
    message: str

    def __str__(self) -> str:
        return f"{self.topic}: {self.message}"


def audit_topic(plan: PlannedTopic, state: TopicState | None) -> list[Finding]:
    """Every finding for one topic (empty: it is as configured)."""
    if state is None:
        return [Finding("error", plan.name, f"does not exist; {CREATE_HINT}")]
    findings = _audit_layout(plan, state)
    if state.config is None:
        findings.append(Finding("warning", plan.name, "its configs could not be read (grant "
                                "DESCRIBE_CONFIGS on the topic); retention not checked"))
        return findings
    if plan.is_input:
        findings += _audit_rebuild(plan, state.config)
    elif plan.role == "alignments" and "compact" not in state.config.get("cleanup.policy", ""):
        findings.append(Finding("error", plan.name, "cleanup.policy is "
                                f"{state.config.get('cleanup.policy')!r}, must include compact: "
                                "it holds the current alignment per left entity"))
    skipped = REBUILD_KEYS if plan.is_input else ("cleanup.policy",)
    for key, want in plan.config.items():
        have = state.config.get(key)
        if key not in skipped and have != want:
            findings.append(Finding("warning", plan.name, f"{key} is {have}, configured {want}"))
    return findings


def _audit_layout(plan: PlannedTopic, state: TopicState) -> list[Finding]:
    """Partitions and replication (read from the metadata, not the configs)."""
    findings = []
    name, replicas = plan.name, state.replication_factor
    if state.partitions != plan.partitions:
        findings.append(Finding("warning", name, f"has {state.partitions} partitions, "
                                f"configured {plan.partitions}"))
    if plan.replication_factor > 0 and replicas < plan.replication_factor:
        findings.append(Finding("warning", name, f"has {replicas} replicas, "
                                f"configured {plan.replication_factor}"))
    elif plan.replication_factor < 0 and replicas == 1:
        findings.append(Finding("warning", name, "has 1 replica: losing one broker loses "
                                "the topic (set kafka.replication_factor)"))
    min_isr = (state.config or {}).get("min.insync.replicas")
    if min_isr is not None and min_isr.isdigit() and int(min_isr) > replicas:
        findings.append(Finding("error", name, f"min.insync.replicas {min_isr} > {replicas} "
                                "replicas: no acks=all write can succeed"))
    return findings


def _audit_rebuild(plan: PlannedTopic, config: dict[str, str]) -> list[Finding]:
    """Can a replacement state volume be rebuilt by re-reading this input from the start?"""
    policy = config.get("cleanup.policy", "")
    findings = []
    if "compact" in policy:
        findings.append(Finding("warning", plan.name, (
            f"cleanup.policy is {policy!r}: compaction keeps one record per key and this input "
            "is keyed per entity (several triples or labels share a key), so a rebuild from "
            "the topic loses records; use delete with infinite retention (or key every record "
            "per triple) and keep `stream-align state backup` copies")))
    if "delete" in policy:
        finite = [f"{key}={config.get(key)}" for key in ("retention.ms", "retention.bytes")
                  if config.get(key) != "-1"]
        if finite:
            findings.append(Finding("warning", plan.name, (
                f"{', '.join(finite)}: a replacement state volume rebuilds only what retention "
                "kept; set retention.ms=-1 and retention.bytes=-1 (the `stream-align topics` "
                "default) or restore from `stream-align state backup`")))
    return findings
