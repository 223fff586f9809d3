"""People You May Know (chapter 11): GNN link prediction on graph snapshots t → t+1, numpy only.

The friendship graph at time t gives each user an embedding from a two-layer GraphSAGE-style
network (mean aggregation of the neighbours, separate weights for the node and its neighbourhood);
node features are the user's school and employer (pseudonyms, hashed into buckets).
A pair (u, v) scores σ(z_u · z_v + a · m_uv + c), where m_uv is log(1 + time-discounted mutual
connections): each common friend counts exp(-age / τ) of the newer of the two friendships, so that
recent mutual connections weigh more. Training fits the weights by manual backprop of the logistic
loss: positives are the friendships formed between t and t+1 among friends of friends, negatives
are sampled among the same users' other friends-of-friends candidates (hard negatives). Candidates are pruned to
friends of friends, ranked by mutual connections, before scoring, as the chapter does.
"""

from __future__ import annotations

import hashlib

import numpy as np
from numpy_nn import Adam, l2_normalize_backward, logistic_loss, sigmoid

BUCKETS = 32


def bucket(value: object) -> int:
    """A stable bucket of a categorical value (the same in training and serving)."""
    return int(hashlib.md5(str(value).encode("utf-8")).hexdigest()[:8], 16) % BUCKETS


class Graph:
    """An undirected graph of the edges formed before some time, as adjacency lists (CSR)."""

    def __init__(self, nodes: list, edges: list) -> None:
        """`edges` are (i, j, time) with node indices into `nodes`; repeated pairs keep their first time."""
        self.nodes = list(nodes)
        self.index = {node: i for i, node in enumerate(self.nodes)}
        n = len(self.nodes)
        first: dict = {}
        for i, j, t in edges:
            if i == j:
                continue
            key = (min(i, j), max(i, j))
            if key not in first or t < first[key]:
                first[key] = t
        src = np.array([i for i, _ in first] + [j for _, j in first], dtype=np.int64)
        dst = np.array([j for _, j in first] + [i for i, _ in first], dtype=np.int64)
        times = np.array(list(first.values()) * 2, dtype=float)
        order = np.lexsort((dst, src))
        self.src, self.dst, self.times = src[order], dst[order], times[order]
        self.degree = np.bincount(self.src, minlength=n).astype(float)
        self.indptr = np.concatenate([[0], np.cumsum(np.bincount(self.src, minlength=n))]).astype(np.int64)

    def __len__(self) -> int:
        return len(self.nodes)

    def neighbours(self, i: int) -> np.ndarray:
        return self.dst[self.indptr[i] : self.indptr[i + 1]]

    def neighbour_times(self, i: int) -> np.ndarray:
        return self.times[self.indptr[i] : self.indptr[i + 1]]

    def connected(self, i: int, j: int) -> bool:
        row = self.neighbours(i)
        k = np.searchsorted(row, j)
        return bool(k < len(row) and row[k] == j)

    def aggregate(self, h: np.ndarray) -> np.ndarray:
        """Mean of each node's neighbours' rows (zeros for isolated nodes)."""
        out = np.zeros_like(h)
        np.add.at(out, self.src, h[self.dst])
        return out / np.maximum(self.degree, 1)[:, None]

    def aggregate_backward(self, grad: np.ndarray) -> np.ndarray:
        """The gradient with respect to `h` of sum(grad * aggregate(h))."""
        out = np.zeros_like(grad)
        np.add.at(out, self.dst, grad[self.src] / np.maximum(self.degree[self.src], 1)[:, None])
        return out

    def candidates(self, i: int, limit: int) -> tuple:
        """Friends of friends of i that are not friends yet: (indices, mutual counts), most mutual first."""
        friends = self.neighbours(i)
        if len(friends) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        reach = np.concatenate([self.neighbours(f) for f in friends])
        found, counts = np.unique(reach, return_counts=True)
        keep = (found != i) & ~np.isin(found, friends)
        found, counts = found[keep], counts[keep]
        order = np.lexsort((found, -counts))[:limit]
        return found[order], counts[order].astype(float)

    def discounted_mutual(self, i: int, j: int, now: float, tau: float) -> float:
        """Σ over common friends of exp(-(now - the newer of the two friendships) / tau)."""
        ni, nj = self.neighbours(i), self.neighbours(j)
        common, a, b = np.intersect1d(ni, nj, assume_unique=True, return_indices=True)
        if len(common) == 0:
            return 0.0
        newer = np.maximum(self.neighbour_times(i)[a], self.neighbour_times(j)[b])
        return float(np.exp(-np.clip(now - newer, 0, None) / tau).sum())


def node_features(graph: Graph, profiles: dict) -> np.ndarray:
    """Per node: one-hot school bucket, one-hot employer bucket, and a constant. (Degree is left out:
    it grows between snapshots, so a model fit on snapshot t would misread it on the next one.)"""
    x = np.zeros((len(graph), 2 * BUCKETS + 1))
    for i, node in enumerate(graph.nodes):
        profile = profiles.get(node, {})
        if profile.get("school"):
            x[i, bucket(profile["school"])] = 1.0
        if profile.get("employer"):
            x[i, BUCKETS + bucket(profile["employer"])] = 1.0
    x[:, -1] = 1.0
    return x


def init_params(features: int, hidden: int, dimensions: int, rng: np.random.Generator) -> dict:
    return {
        "self1": rng.normal(0, np.sqrt(1.0 / features), (features, hidden)),
        "neigh1": rng.normal(0, np.sqrt(1.0 / features), (features, hidden)),
        "b1": np.zeros(hidden),
        "self2": rng.normal(0, np.sqrt(1.0 / hidden), (hidden, dimensions)),
        "neigh2": rng.normal(0, np.sqrt(1.0 / hidden), (hidden, dimensions)),
        "scale": np.array([2.0]),
        "mutual": np.array([0.5]),
        "bias": np.array([0.0]),
    }


def embed(params: dict, graph: Graph, x: np.ndarray) -> tuple:
    """Unit-length embeddings z (N, D) and what backprop needs."""
    m0 = graph.aggregate(x)
    pre1 = x @ params["self1"] + m0 @ params["neigh1"] + params["b1"]
    h1 = np.maximum(pre1, 0)
    m1 = graph.aggregate(h1)
    raw = h1 @ params["self2"] + m1 @ params["neigh2"]
    norm = np.sqrt((raw**2).sum(axis=1, keepdims=True) + 1e-12)
    return raw / norm, (x, m0, pre1, h1, m1, norm)


def pair_logits(params: dict, z: np.ndarray, pairs: np.ndarray, mutual: np.ndarray) -> np.ndarray:
    """scale × cosine(z_u, z_v) + mutual weight × m_uv + bias."""
    cosine = (z[pairs[:, 0]] * z[pairs[:, 1]]).sum(axis=1)
    return params["scale"][0] * cosine + params["mutual"][0] * mutual + params["bias"][0]


def loss_and_gradients(
    params: dict, graph: Graph, x: np.ndarray, pairs: np.ndarray, mutual: np.ndarray, labels: np.ndarray, l2: float
) -> tuple:
    """Mean logistic loss of the pairs (+ L2 on the weights) and its gradients, by manual backprop."""
    z, (x, m0, pre1, h1, m1, norm) = embed(params, graph, x)
    logits = pair_logits(params, z, pairs, mutual)
    cosine = (z[pairs[:, 0]] * z[pairs[:, 1]]).sum(axis=1)
    loss, d_logit = logistic_loss(logits, labels)
    weights = ("self1", "neigh1", "self2", "neigh2")
    loss += l2 * sum((params[k] ** 2).sum() for k in weights)
    d_cosine = d_logit * params["scale"][0]
    dz = np.zeros_like(z)
    np.add.at(dz, pairs[:, 0], d_cosine[:, None] * z[pairs[:, 1]])
    np.add.at(dz, pairs[:, 1], d_cosine[:, None] * z[pairs[:, 0]])
    dz = l2_normalize_backward(dz, z, norm)
    grads = {
        "scale": np.array([(d_logit * cosine).sum()]),
        "mutual": np.array([(d_logit * mutual).sum()]),
        "bias": np.array([d_logit.sum()]),
        "self2": h1.T @ dz,
        "neigh2": m1.T @ dz,
    }
    dh1 = dz @ params["self2"].T + graph.aggregate_backward(dz @ params["neigh2"].T)
    dpre1 = dh1 * (pre1 > 0)
    grads["self1"] = x.T @ dpre1
    grads["neigh1"] = m0.T @ dpre1
    grads["b1"] = dpre1.sum(axis=0)
    for k in weights:
        grads[k] = grads[k] + 2 * l2 * params[k]
    return float(loss), grads


def snapshot(nodes: list, edges: list, before: float) -> Graph:
    """The graph of the edges formed strictly before `before`."""
    return Graph(nodes, [(i, j, t) for i, j, t in edges if t < before])


def link_examples(
    graph: Graph, future: list, now: float, tau: float, negatives: int, max_candidates: int, rng: np.random.Generator
) -> tuple:
    """(pairs, mutual feature, labels) as serving sees them: for each user who made new friends
    after the snapshot, the new friends among its friends-of-friends candidates are positives and
    `negatives` other candidates per positive are sampled as (hard) negatives."""
    new_friends: dict = {}
    for i, j, _ in future:
        if i != j and not graph.connected(i, j):
            new_friends.setdefault(i, set()).add(j)
            new_friends.setdefault(j, set()).add(i)
    pairs, labels = [], []
    for i in sorted(new_friends):
        found, _ = graph.candidates(i, max_candidates)
        positive = [int(c) for c in found if int(c) in new_friends[i]]
        pool = [int(c) for c in found if int(c) not in new_friends[i]]
        if not positive:
            continue
        chosen = rng.choice(pool, size=min(len(pool), negatives * len(positive)), replace=False) if pool else []
        pairs.extend((i, c) for c in positive)
        labels.extend([1.0] * len(positive))
        pairs.extend((i, int(c)) for c in chosen)
        labels.extend([0.0] * len(chosen))
    pair_array = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    mutual = np.array([np.log1p(graph.discounted_mutual(i, j, now, tau)) for i, j in pair_array])
    return pair_array, mutual, np.array(labels)


def train_link_model(
    graph: Graph,
    x: np.ndarray,
    pairs: np.ndarray,
    mutual: np.ndarray,
    labels: np.ndarray,
    hidden: int = 32,
    dimensions: int = 16,
    epochs: int = 200,
    learning_rate: float = 0.01,
    l2: float = 1e-4,
    seed: int = 7,
    params: dict | None = None,
    start_epoch: int = 0,
    on_epoch=None,
) -> tuple:
    """Full-batch Adam on the logistic link loss; returns (params, loss history)."""
    rng = np.random.default_rng(seed)
    params = params or init_params(x.shape[1], hidden, dimensions, rng)
    optimizer = Adam(params, learning_rate=learning_rate)
    history = []
    for epoch in range(start_epoch, epochs):
        loss, grads = loss_and_gradients(params, graph, x, pairs, mutual, labels, l2)
        optimizer.update(params, grads)
        # More mutual friends never make a friendship less likely: projected onto mutual weight ≥ 0.
        params["mutual"] = np.maximum(params["mutual"], 0.0)
        history.append(loss)
        if on_epoch is not None:
            on_epoch(epoch, params, history)
    return params, history


def suggest(
    graph: Graph, z: np.ndarray, params: dict, user: int, k: int, max_candidates: int, now: float, tau: float
) -> list:
    """Top-k (node index, probability) among the user's friends-of-friends candidates."""
    found, _ = graph.candidates(user, max_candidates)
    if len(found) == 0:
        return []
    pairs = np.stack([np.full(len(found), user), found], axis=1)
    mutual = np.array([np.log1p(graph.discounted_mutual(user, int(c), now, tau)) for c in found])
    scores = sigmoid(pair_logits(params, z, pairs, mutual))
    order = np.argsort(-scores, kind="mergesort")[:k]
    return [(int(found[o]), float(scores[o])) for o in order]
