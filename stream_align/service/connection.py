"""Reaching the cluster with a clear answer: why an admin client could not get metadata.

librdkafka answers a metadata request that failed on credentials or TLS with the same
"Broker transport failure" as one to a broker that is down, after the whole timeout; the cause
arrives separately, through the client's error callback. ``cluster_topics`` asks in short
rounds and stops at the first authentication or TLS error, saying it ("SASL authentication
error: Authentication failed ... invalid credentials"), instead of a timeout.
"""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from stream_align.service.errors import KafkaUnavailableError
from stream_align.service.kafka_client import BROKERS, client_config
from stream_align.service.settings import KafkaSettings

ROUND_S = 1.0
FINAL_ERRORS = frozenset({KafkaError._AUTHENTICATION, KafkaError._SSL,
                          KafkaError.SASL_AUTHENTICATION_FAILED,
                          KafkaError.TOPIC_AUTHORIZATION_FAILED,
                          KafkaError.CLUSTER_AUTHORIZATION_FAILED})


class ConnectionErrors:
    """An ``error_cb`` that keeps the last error of each kind for the failure message, and
    passes each on to the process's broker watch (``BROKERS``)."""

    def __init__(self) -> None:
        self.errors: dict[int, KafkaError] = {}

    def __call__(self, error: KafkaError) -> None:
        self.errors[error.code()] = error
        BROKERS.on_error(error)

    def final(self) -> KafkaError | None:
        """An error that waiting will not cure (credentials, TLS, authorisation)."""
        return next((e for code, e in self.errors.items() if code in FINAL_ERRORS), None)

    def describe(self, fallback: Exception) -> str:
        chosen = self.final() or next(iter(self.errors.values()), None)
        return chosen.str() if chosen is not None else str(fallback)


def admin_client(settings: KafkaSettings) -> tuple[AdminClient, ConnectionErrors]:
    errors = ConnectionErrors()
    return AdminClient(client_config(settings, "admin", error_cb=errors)), errors


def cluster_topics(settings: KafkaSettings, timeout: float = 30.0) -> tuple[AdminClient, Any]:
    """An admin client and the cluster's metadata; ``KafkaUnavailableError`` says why not."""
    admin, errors = admin_client(settings)
    deadline = time.monotonic() + timeout
    while True:
        try:
            metadata = admin.list_topics(
                timeout=min(ROUND_S, max(deadline - time.monotonic(), 0.01)))
        except KafkaException as exc:
            admin.poll(0)  # serves error_cb
            if errors.final() is not None or time.monotonic() >= deadline:
                raise KafkaUnavailableError(f"cannot use Kafka at {settings.bootstrap_servers}: "
                                            f"{errors.describe(exc)}") from exc
            continue
        BROKERS.reachable()
        return admin, metadata
