"""Memory banks of training features: nearest-neighbour distances and bank subsampling.

Shared by the two same-feature baselines (global kNN on pooled features, PatchCore-style patch
bank). Pure tensor functions; every random choice takes an explicit seed.
"""

from __future__ import annotations

import torch
from torch import nn

from dsn.utils.progress_bar import ProgressBar

SUBSAMPLERS = ("all", "random", "coreset")
METRICS = ("l2", "cosine")
PROGRESS_ROWS = 10_000  # a coreset this large takes minutes on a CPU: its selection shows progress and ETA
CHUNK_ELEMENTS = 2**27  # query x bank distances held at once (512 MB in float32), whatever the bank's size


def nearest_distances(
    queries: torch.Tensor, bank: torch.Tensor, k: int, metric: str = "l2", chunk: int = 4096
) -> torch.Tensor:
    """Distances of each query [N, D] to its ``k`` nearest rows of ``bank`` [M, D], ascending: [N, k].

    ``l2``: Euclidean distance; ``cosine``: 1 - cosine similarity. Computed in chunks of queries
    through one matrix product each (memory ``chunk x M``, at most :data:`CHUNK_ELEMENTS`);
    differentiable in ``queries``."""
    if metric not in METRICS:
        raise ValueError(f"model.head.metric must be one of {METRICS}, got {metric!r}")
    if bank.numel() == 0:
        raise ValueError("the memory bank is empty: fit the model on training features first")
    if queries.shape[-1] != bank.shape[-1]:
        raise ValueError(
            f"features of width {queries.shape[-1]} against a bank of width {bank.shape[-1]}: the "
            f"checkpoint was fitted with other feature settings"
        )
    k = min(k, bank.shape[0])
    chunk = max(1, min(chunk, CHUNK_ELEMENTS // bank.shape[0]))  # a huge bank: fewer queries at a time
    bank = bank.to(queries)
    if metric == "cosine":
        bank = torch.nn.functional.normalize(bank, dim=1)
    else:  # centred on the bank's mean: same distances, smaller norms, less cancellation in the sqrt
        centre = bank.mean(dim=0)
        bank, queries = bank - centre, queries - centre
    bank_sq = bank.pow(2).sum(dim=1)
    out = []
    for start in range(0, queries.shape[0], chunk):
        q = queries[start : start + chunk]
        if metric == "cosine":
            out.append(_smallest(1.0 - torch.nn.functional.normalize(q, dim=1) @ bank.T, k))
        else:  # |b|^2 - 2qb in one fused product; |q|^2, the clamp and the sqrt only on the k kept
            nearest = _smallest(torch.addmm(bank_sq, q, bank.T, alpha=-2.0), k)
            out.append((nearest + q.pow(2).sum(dim=1, keepdim=True)).clamp_min(0.0).sqrt())
    return torch.cat(out)


def _smallest(d: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k`` smallest values of each row of ``d``, ascending (a plain min for one: a large
    bank's search spends its time here and in the product)."""
    return d.min(dim=1, keepdim=True).values if k == 1 else d.topk(k, dim=1, largest=False).values


def subsample(features: torch.Tensor, size: int | None, method: str, seed: int) -> torch.Tensor:
    """At most ``size`` rows of ``features`` [N, D]: all of them, a seeded random subset, or a
    greedy coreset (:func:`greedy_coreset`). ``size`` None or >= N keeps every row."""
    if method not in SUBSAMPLERS:
        raise ValueError(f"model.head.subsample must be one of {SUBSAMPLERS}, got {method!r}")
    n = features.shape[0]
    # the bank must not alias the caller's tensor; indexing below already copies
    if method == "all" or size is None or size >= n:
        return features.clone()
    if method == "random":
        return features[random_subset(n, size, seed)]
    return features[greedy_coreset(features, size, seed)]


def greedy_coreset(features: torch.Tensor, size: int, seed: int, projection: int = 128) -> torch.Tensor:
    """Indices of ``size`` rows chosen by greedy k-center selection (PatchCore's coreset): each
    next row is the one farthest from all rows chosen so far, so the bank covers the feature
    distribution's extent, not just its dense middle. Distances are measured after a seeded
    random projection to ``projection`` dimensions (Johnson-Lindenstrauss), as PatchCore does,
    which makes a step cost N x ``projection``. The rows are centred and scaled into the unit
    ball and each step's product reads them in half precision: a step is one pass over N rows, so
    halving the bytes makes it about 4x faster on a CPU (597k rows of 432 features on 2 cores: 43 ->
    10 ms a step, a 60k-row coreset 43 -> 10 min), at a relative error of about 1e-3 in a choice
    that the projection already makes approximate."""
    n, d = features.shape
    g = torch.Generator().manual_seed(seed)
    x = features.float()
    if d > projection:
        x = x @ (torch.randn(d, projection, generator=g) / projection**0.5)
    x = x - x.mean(dim=0)
    x = x / x.norm(dim=1).max().clamp_min(1e-12)  # |row| <= 1: every product fits half precision
    half = x.half()
    sq = x.pow(2).sum(dim=1)
    chosen = torch.empty(size, dtype=torch.long)
    chosen[0] = int(torch.randint(n, (1,), generator=g))
    min_d = sq + sq[chosen[0]] - 2.0 * torch.mv(half, half[chosen[0]]).float()
    bar = ProgressBar(size, "coreset of the bank (greedy k-center)", unit="rows") if size >= PROGRESS_ROWS else None
    for i in range(1, size):
        c = int(min_d.argmax())
        chosen[i] = c
        torch.minimum(min_d, sq + sq[c] - 2.0 * torch.mv(half, half[c]).float(), out=min_d)
        if bar is not None and (i + 1) % 1000 == 0:
            bar.update(1000)
    if bar is not None:
        bar.update(size - bar.done)
        bar.close()
    return chosen


def random_subset(n: int, size: int, seed: int) -> torch.Tensor:
    """``size`` of the indices ``0..n-1``, drawn uniformly without replacement (seeded), ascending."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:size].sort().values


class RowStream:
    """The rows of one pass over the training set, arriving in chunks, kept as :func:`subsample`
    will need them.

    Why: a patch bank sees every patch of every training image (Magnetic Tile: 761 images x 784
    patches x 640 features, 1.5 GB), but keeps ``size`` of them. With a random subsample and the
    pass's ``total`` row count known in advance, the stream keeps exactly the rows
    ``subsample(all rows, size, "random", seed)`` would pick, as they arrive, and never holds the
    rest; ``subsample`` of what it returns then keeps them all. Other methods need every row (the
    coreset looks at all of them) and keep everything."""

    def __init__(self, total: int, *, size: int | None, method: str, seed: int):
        self.total, self.seen, self.parts = total, 0, []
        self.keep = (
            random_subset(total, size, seed) if method == "random" and size is not None and size < total else None
        )

    def add(self, rows: torch.Tensor) -> None:
        """Rows [m, width] that follow the ones added so far."""
        start, stop = self.seen, self.seen + rows.shape[0]
        if stop > self.total:
            raise RuntimeError(f"the pass gave more than the {self.total} training rows it was sized for")
        if self.keep is not None:
            lo, hi = torch.searchsorted(self.keep, torch.tensor([start, stop])).tolist()
            rows = rows[self.keep[lo:hi] - start]
        self.parts.append(rows.detach().float().cpu())
        self.seen = stop

    def rows(self) -> torch.Tensor:
        """Everything kept, in arrival order; the pass must have given all ``total`` rows."""
        if self.seen != self.total:
            raise RuntimeError(f"the pass gave {self.seen} training rows, {self.total} expected")
        return torch.cat(self.parts)


class MemoryBank(nn.Module):
    """A bank of training feature rows (a buffer: saved in checkpoints, moved with the model) and
    the distance of new rows to their ``k`` nearest members.

    The bank's row count is known only after fitting; loading a state dict resizes it."""

    def __init__(self, width: int, *, k: int, metric: str, size: int | None, subsample: str, seed: int):
        super().__init__()
        if k < 1:
            raise ValueError(f"model.head.k must be at least 1, got {k}")
        if metric not in METRICS:
            raise ValueError(f"model.head.metric must be one of {METRICS}, got {metric!r}")
        if subsample not in SUBSAMPLERS:
            raise ValueError(f"model.head.subsample must be one of {SUBSAMPLERS}, got {subsample!r}")
        self.k, self.metric, self.size, self.method, self.seed = k, metric, size, subsample, seed
        self.register_buffer("rows", torch.empty(0, width))

    @property
    def fitted(self) -> bool:
        return self.rows.shape[0] > 0

    def stream(self, total: int) -> RowStream:
        """A :class:`RowStream` for a pass of ``total`` rows, for :meth:`fit` to take at its end."""
        return RowStream(total, size=self.size, method=self.method, seed=self.seed)

    def fit(self, rows: torch.Tensor) -> None:
        """Store (a subsample of) ``rows`` [N, width]; replaces any earlier bank."""
        if rows.ndim != 2 or rows.shape[1] != self.rows.shape[1]:
            raise ValueError(f"bank rows must be [N, {self.rows.shape[1]}], got {tuple(rows.shape)}")
        kept = subsample(rows.detach().float().cpu(), self.size, self.method, self.seed)
        self.rows = kept.to(self.rows.device)

    def distances(self, queries: torch.Tensor) -> torch.Tensor:
        """Mean distance of each query [N, width] to its k nearest bank rows: [N]."""
        with torch.autocast(queries.device.type, enabled=False):  # bf16 ruins |q|^2 + |b|^2 - 2qb
            return nearest_distances(queries.float(), self.rows, self.k, self.metric).mean(dim=1)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        key = prefix + "rows"
        if key in state_dict:
            self.rows = torch.empty_like(state_dict[key], device=self.rows.device)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
