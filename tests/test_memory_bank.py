"""The memory bank of the same-feature baselines: nearest-neighbour search (exact, in bounded
memory), subsampling (random, greedy coreset), the streamed pass and reloading."""

import pytest
import torch

from dsn.model.memory_bank import (
    MemoryBank,
    RowStream,
    greedy_coreset,
    nearest_distances,
    random_subset,
    subsample,
)


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_nearest_distances_match_brute_force(metric, k):
    g = torch.Generator().manual_seed(0)
    q, bank = torch.randn(50, 16, generator=g), torch.randn(300, 16, generator=g)
    if metric == "l2":
        full = torch.cdist(q.double(), bank.double())
    else:
        full = (
            1 - torch.nn.functional.normalize(q.double(), dim=1) @ torch.nn.functional.normalize(bank.double(), dim=1).T
        )
    want = full.sort(dim=1).values[:, :k].float()
    got = nearest_distances(q, bank, k=k, metric=metric, chunk=7)  # chunks that do not divide N
    assert torch.allclose(got, want, atol=1e-4)


def test_a_huge_bank_is_searched_a_few_queries_at_a_time(monkeypatch):
    """The distances held at once stay under CHUNK_ELEMENTS however many rows the bank keeps
    (Magnetic Tile's every patch: 597k rows; 4096 queries against them would be 9.8 GB)."""
    import dsn.model.memory_bank as mb

    monkeypatch.setattr(mb, "CHUNK_ELEMENTS", 3 * 300)
    held, addmm = [], torch.addmm

    def recording(*args, **kwargs):
        out = addmm(*args, **kwargs)
        held.append(out.numel())
        return out

    monkeypatch.setattr(mb.torch, "addmm", recording)
    g = torch.Generator().manual_seed(0)
    q, bank = torch.randn(50, 16, generator=g), torch.randn(300, 16, generator=g)
    got = mb.nearest_distances(q, bank, k=1)  # the default chunk, 4096 queries, would hold 15,000
    assert torch.allclose(got, torch.cdist(q, bank).min(dim=1, keepdim=True).values, atol=1e-4)
    assert max(held) == 900 and len(held) == 17  # 3 queries x 300 rows, 17 times for 50 queries


def test_the_half_precision_coreset_covers_the_rows_as_well_as_an_exact_one():
    """The coreset's steps read the rows in half precision; what it is for, covering every row by a
    near chosen one, holds as well as for the same greedy selection in float64."""
    g = torch.Generator().manual_seed(3)  # 8 intrinsic dimensions in 200, a dense mass and 3 rare clusters
    z = torch.cat(
        [torch.randn(3000, 8, generator=g), *(8 * torch.eye(8)[k] + torch.randn(10, 8, generator=g) for k in range(3))]
    )
    x = z @ torch.randn(8, 200, generator=g)

    def radius(chosen):  # the farthest any row is from its nearest chosen row
        return torch.cdist(x.double(), x[chosen].double()).min(dim=1).values.max()

    def exact(size):  # the same greedy selection, in float64 on the full rows
        d = torch.cdist(x.double(), x[:1].double())[:, 0]
        chosen = [0]
        for _ in range(size - 1):
            chosen.append(int(d.argmax()))
            d = torch.minimum(d, torch.cdist(x.double(), x[chosen[-1] : chosen[-1] + 1].double())[:, 0])
        return torch.tensor(chosen)

    ours = greedy_coreset(x, 100, seed=0)
    assert len(set(ours.tolist())) == 100
    assert radius(ours) <= 1.1 * radius(exact(100))  # the projection to 128 of 200 dims costs a little
    assert radius(ours) < 0.8 * radius(random_subset(len(x), 100, seed=0))


def test_a_large_coreset_shows_its_progress(capsys):
    """Magnetic Tile's 60k-row coreset takes 10 minutes on 2 cores: silent, it looked hung."""
    x = torch.randn(12_000, 8, generator=torch.Generator().manual_seed(0))
    assert len(set(greedy_coreset(x, 10_000, seed=0).tolist())) == 10_000
    assert "coreset of the bank (greedy k-center): 10000/10000 rows" in capsys.readouterr().out
    greedy_coreset(x, 100, seed=0)  # seconds: no line
    assert capsys.readouterr().out == ""


def test_greedy_coreset_keeps_the_outliers_a_random_subset_misses():
    g = torch.Generator().manual_seed(1)
    dense = torch.randn(2000, 32, generator=g)
    far = 40 * torch.eye(32)[:5]  # 5 rare rows, far out in 5 directions: the extent of the data
    x = torch.cat([dense, far])
    chosen = greedy_coreset(x, 20, seed=0)
    assert len(set(chosen.tolist())) == 20
    assert set(range(2000, 2005)) <= set(chosen.tolist())

    def coverage(rows):  # largest distance from any row to its nearest kept row
        return torch.cdist(x, rows).min(dim=1).values.max()

    assert coverage(x[chosen]) < coverage(subsample(x, 20, "random", seed=0))


def test_subsample_is_seeded_and_sized():
    x = torch.randn(100, 4)
    a, b = subsample(x, 10, "random", seed=3), subsample(x, 10, "random", seed=3)
    assert a.shape == (10, 4) and torch.equal(a, b) and not torch.equal(a, subsample(x, 10, "random", seed=4))
    assert torch.equal(subsample(x, None, "coreset", seed=0), x) and torch.equal(subsample(x, 10, "all", 0), x)
    for method, size in [("all", None), ("random", 10), ("coreset", 10)]:  # a bank never aliases its input
        assert subsample(x, size, method, seed=0).data_ptr() != x.data_ptr()


@pytest.mark.parametrize(("method", "size"), [("random", 25), ("random", 500), ("coreset", 25), ("all", None)])
def test_a_streamed_pass_gives_the_bank_of_all_rows_at_once_holding_only_what_it_keeps(method, size):
    g = torch.Generator().manual_seed(5)
    chunks = [torch.randn(m, 6, generator=g) for m in (7, 1, 30, 0, 12, 50)]  # 100 rows, uneven chunks
    stream = RowStream(100, size=size, method=method, seed=2)
    for c in chunks:
        stream.add(c)
    kept = stream.rows()
    assert torch.equal(subsample(kept, size, method, seed=2), subsample(torch.cat(chunks), size, method, seed=2))
    assert kept.shape[0] == (25 if method == "random" and size == 25 else 100)  # a random bank holds only its rows


def test_a_stream_refuses_a_pass_of_another_length():
    stream = RowStream(10, size=4, method="random", seed=0)
    stream.add(torch.randn(6, 3))
    with pytest.raises(RuntimeError, match="6 training rows, 10 expected"):
        stream.rows()
    with pytest.raises(RuntimeError, match="more than the 10 training rows"):
        stream.add(torch.randn(5, 3))


def test_bank_of_any_size_reloads():
    bank = MemoryBank(8, k=2, metric="l2", size=None, subsample="all", seed=0)
    bank.fit(torch.randn(37, 8))
    fresh = MemoryBank(8, k=2, metric="l2", size=None, subsample="all", seed=0)
    fresh.load_state_dict(bank.state_dict())
    q = torch.randn(5, 8)
    assert fresh.rows.shape == (37, 8) and torch.equal(fresh.distances(q), bank.distances(q))
