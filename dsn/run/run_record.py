"""What one run carries from its start to its end: its folder, its clock and the memory
high-water mark after each stage (which stage set a run's peak). Training and evaluation both
hold one, instead of passing a start time and a dict of peaks down every call."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from dsn.utils.memory import peak_rss_mb


@dataclass
class RunRecord:
    output_dir: Path
    start: float = field(default_factory=time.monotonic)
    peaks: dict[str, float] = field(default_factory=dict)

    @property
    def metrics_file(self) -> Path:
        return Path(self.output_dir) / "metrics.json"

    def stage(self, name: str) -> float:
        """Record the peak RSS (MB) so far as the mark after stage ``name``; returns it."""
        self.peaks[name] = peak_rss_mb()
        return self.peaks[name]

    def elapsed(self) -> float:
        return time.monotonic() - self.start
