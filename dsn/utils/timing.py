"""Wall-clock latency of a call, measured with ``torch.utils.benchmark.Timer`` (it syncs the GPU
when one is used and keeps torch's thread setting)."""

from __future__ import annotations

from collections.abc import Callable


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    """Median of ``repeats`` timed calls of ``fn`` (after one warm-up), in milliseconds."""
    import torch
    from torch.utils.benchmark import Measurement, Timer

    timer = Timer(stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
    fn()
    (merged,) = Measurement.merge([timer.timeit(1) for _ in range(repeats)])
    return 1000 * merged.median
