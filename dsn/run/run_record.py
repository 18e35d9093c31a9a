"""What one run carries from its start to its end: its folder, its clock, and for each stage the
memory high-water mark after it (which stage set a run's peak) and the seconds it took (which
stage cost the time, e.g. figures against fitting). Training and evaluation both hold one,
instead of passing a start time and dicts of peaks and times down every call."""

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
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def metrics_file(self) -> Path:
        return Path(self.output_dir) / "metrics.json"

    def stage(self, name: str) -> float:
        """Record the peak RSS (MB) so far as the mark after stage ``name``, and the seconds since
        the previous mark (or the start) as the stage's time; returns the peak."""
        self.peaks[name] = peak_rss_mb()
        self.seconds[name] = round(self.elapsed() - sum(self.seconds.values()), 1)
        return self.peaks[name]

    def elapsed(self) -> float:
        return time.monotonic() - self.start
