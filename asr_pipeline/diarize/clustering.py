"""Speaker clustering: agglomerative (average linkage, cosine distance) with scipy.

With a known count the dendrogram is cut into that many clusters; otherwise it is cut at a
distance ``threshold`` and the clusters big enough to be a speaker are counted, within
``min_speakers``..``max_speakers``. Windows of clusters too small to count (a cough, two
voices in one window) and windows marked unreliable (shorter than the others) join the nearest
speaker.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["cluster"]

MIN_SHARE = 0.05
MIN_WINDOWS = 3
MAX_WINDOWS = 20
"""A cluster counts as a speaker with MIN_SHARE of the windows, but at least MIN_WINDOWS and at
most MAX_WINDOWS of them (20 windows at the default hop: 15 s of speech)."""


def cluster(
    embeddings: np.ndarray,
    *,
    num_speakers: int | None = None,
    min_speakers: int = 1,
    max_speakers: int = 8,
    threshold: float = 0.3,
    reliable: np.ndarray | None = None,
) -> np.ndarray:
    """A speaker index (0, 1, ...) per embedding row; only ``reliable`` rows (a boolean mask,
    default all) shape the clusters.

    >>> cluster(np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]]), num_speakers=2).tolist()
    [0, 0, 1, 1]
    """
    count = len(embeddings)
    if count == 0:
        return np.zeros(0, dtype=int)
    if count == 1 or num_speakers == 1:
        return np.zeros(count, dtype=int)
    from scipy.cluster.hierarchy import fcluster, linkage

    every = _unit(np.asarray(embeddings, dtype=np.float64))
    vectors = every if reliable is None or np.sum(reliable) < 2 else every[reliable]
    count = len(vectors)
    tree = linkage(vectors, method="average", metric="cosine")
    min_size = min(max(MIN_WINDOWS, math.ceil(MIN_SHARE * count)), MAX_WINDOWS, count)
    if num_speakers is None:
        labels = fcluster(tree, t=threshold, criterion="distance")
        found = int((np.bincount(labels) >= min_size).sum())
        num_speakers = min(max(found, min_speakers), max_speakers)
    num_speakers = min(num_speakers, count)
    min_size = min(min_size, count // num_speakers)
    # Cut deeper until that many clusters are big enough: small ones are outliers, not speakers.
    for k in range(num_speakers, count + 1):
        labels = fcluster(tree, t=k, criterion="maxclust")
        sizes = np.bincount(labels)
        big = np.argsort(-sizes)[:num_speakers]
        if sizes[big[-1]] >= min_size or k == count:
            break
    centroids = _unit(np.stack([vectors[labels == b].mean(axis=0) for b in big]))
    assigned = np.argmax(every @ centroids.T, axis=1)
    return _first_appearance(assigned)


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def _first_appearance(labels: np.ndarray) -> np.ndarray:
    """Renumber labels 0, 1, ... in order of first appearance."""
    order = {label: i for i, label in enumerate(dict.fromkeys(labels.tolist()))}
    return np.array([order[label] for label in labels.tolist()], dtype=int)
