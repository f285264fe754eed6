"""The model's IVF quantisers, fitted at ``stream-align train`` (decision 0080).

The cells are trained on the retrieval vectors the trained model gives its own training graphs
— graph A's query rows and graph B's base rows, the vectors an engine with this model indexes
for those graphs, normalised as the engine's index normalises them — so they are part of the
model version: every engine and every restart with this artifact uses the same cells, whatever
the stream's batches. A deployment's graphs are the graphs the model is trained on (or grown
from them), so the training vectors sample the distribution the cells partition.
"""

from __future__ import annotations

import numpy as np
import torch

from stream_align.graph import Graph, GraphPair
from stream_align.index import train_ladder
from stream_align.index.kmeans import threads
from stream_align.index.vector_index import prepared
from stream_align.model.bundle import ModelBundle
from stream_align.model.readout import retrieval_vectors


def fit_quantisers(bundle: ModelBundle, pair: GraphPair) -> dict[int, np.ndarray]:
    """``bundle``'s IVF quantiser ladder (``index.ladder``) from ``pair``'s retrieval vectors
    (both graphs, A first); the large k-means on the training's threads (``train.threads``:
    FAISS's default is every core the machine has), the small ones on one (decision 0084)."""
    net, parts = bundle.net, []
    with torch.no_grad():
        for graph, query in ((pair.a, True), (pair.b, False)):
            inputs = bundle.inputs(graph)
            vectors = retrieval_vectors(net, inputs, net.encode(inputs), query=query).numpy()
            vectors = vectors[held(graph)]
            parts.append(prepared(vectors, vectors.shape[1], net.loss == "hinge"))
            del inputs
    with threads(bundle.train.threads):
        return train_ladder(np.concatenate(parts))


def held(graph: Graph) -> np.ndarray:
    """Which entities ``graph`` holds something for: in a triple, named, typed or with an
    attribute. The others (a continual dataset's later entities) all share the model's one
    vector of an empty entity; every entity where none is held (a graph of only those)."""
    out = np.zeros(graph.num_entities, dtype=bool)
    out[graph.triples[:, 0]] = True
    out[graph.triples[:, 2]] = True
    out |= np.fromiter((bool(n or t or a) for n, t, a in zip(
        graph.names, graph.types, graph.attributes, strict=True)), bool, graph.num_entities)
    return out if out.any() else np.ones(graph.num_entities, dtype=bool)
