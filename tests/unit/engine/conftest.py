"""Fixtures of the engine tests that stream a whole synthetic pair: the pair and a model."""

from __future__ import annotations

import pytest
from engine_fixtures import synthetic_pair, untrained_bundle

from stream_align.graph import GraphPair
from stream_align.model.bundle import ModelBundle


@pytest.fixture(scope="module")
def pair() -> GraphPair:
    return synthetic_pair()


@pytest.fixture(scope="module")
def bundle(pair: GraphPair) -> ModelBundle:
    return untrained_bundle(pair)
