"""``stream-align run``: the streaming service — triples in, alignment events out, exactly once."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from stream_align.cli.options import add_config_argument

if TYPE_CHECKING:
    from stream_align.cli.config import AppSettings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run", help="run the streaming alignment service",
        description="Consume kg.triples and kg.labels, apply every change to the RocksDB graph "
        "store, recompute the affected embeddings with the trained model, retrieve candidates "
        "in both directions with FAISS, re-score them with cross-graph attention and publish "
        "alignment events (kg.alignment-events, and kg.alignments compacted). State, offsets "
        "and outgoing events commit in one RocksDB batch per micro-batch; after a crash a "
        "restart resumes from the stored offsets. Serves /healthz, /readyz and /metrics. "
        "Every setting: `stream-align config`.")
    parser.add_argument("--model", type=Path, default=None, metavar="DIR",
                        help="trained model directory (overrides runner.model_path)")
    parser.add_argument("--state", type=Path, default=None, metavar="DIR",
                        help="RocksDB state directory (overrides store.path)")
    parser.add_argument("--until-idle", type=float, default=None, metavar="SECONDS",
                        help="exit after this long without input (default: run until SIGTERM)")
    add_config_argument(parser)
    parser.set_defaults(func=run, exit_at_once=True)


def _with_overrides(settings: AppSettings, args: argparse.Namespace) -> AppSettings:
    runner, store = settings.runner, settings.store
    if args.model is not None:
        runner = runner.model_copy(update={"model_path": str(args.model)})
    if args.state is not None:
        store = store.model_copy(update={"path": args.state})
    return settings.model_copy(update={"runner": runner, "store": store})


def run(args: argparse.Namespace) -> int:
    import structlog

    from stream_align.cli.config import load_settings
    from stream_align.engine.engine import AlignmentEngine
    from stream_align.model.artifact import load
    from stream_align.service.backup_agent import BackupAgent
    from stream_align.service.observability import (
        HealthState,
        ObservabilityServer,
        ServiceMetrics,
        configure_logging,
        configure_tracing,
        install_signal_handlers,
    )
    from stream_align.service.runner import AlignmentService
    from stream_align.service.topics import require_topics
    from stream_align.store.state_store import StateStore

    settings = _with_overrides(load_settings(args.config), args)
    obs = settings.observability
    configure_logging(obs.log_level, obs.log_format)
    log = structlog.get_logger("stream_align.run")
    metrics, health = ServiceMetrics(), HealthState(obs.liveness_timeout_s)
    restore_signals = install_signal_handlers(health)
    with ObservabilityServer.from_settings(obs, health, metrics) as server:
        log.info("serving probes", port=server.port)
        health.progress("load model", 0, 3)  # each start-up step beats (/healthz)
        bundle = load(Path(settings.runner.model_path))
        metrics.set_model_version(bundle.version)
        health.progress("check topics", 1, 3)
        for warning in require_topics(settings.kafka):
            log.warning("topic settings", problem=str(warning))
        health.progress("open state store", 2, 3)
        store = StateStore(settings.store)
        store.set_model_version(bundle.version)
        service = AlignmentService(
            settings.kafka, settings.codec, settings.runner, store,
            lambda stored, progress: AlignmentEngine.restore(bundle, stored, settings.engine,
                                                             progress),
            metrics, health, configure_tracing(obs))
        try:
            with BackupAgent(store):  # answers `stream-align state backup`
                service.start()
                service.run(until_idle=args.until_idle)
        finally:
            service.close()
            store.close()
            restore_signals()
    log.info("stopped")
    return 0
