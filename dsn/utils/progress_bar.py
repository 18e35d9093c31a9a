"""Progress people can trust on long stages (feature caching, scoring): done / total, rate and ETA.

On a terminal a tqdm bar; elsewhere (a log file, a SLURM job's output) one plain line every
``every_s`` seconds and one at the end, so a log shows the same facts without carriage returns."""

from __future__ import annotations

import sys
import time


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


class ProgressBar:
    def __init__(self, total: int, desc: str, unit: str = "images", initial: int = 0, every_s: float = 30.0):
        self.total, self.desc, self.unit, self.done, self.every_s = total, desc, unit, initial, every_s
        self.start = self.last = time.monotonic()
        self.initial = initial
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=desc, unit=unit[:3], dynamic_ncols=True, leave=False)

    def line(self) -> str:
        elapsed = time.monotonic() - self.start
        rate = (self.done - self.initial) / elapsed if elapsed > 0 else 0.0
        eta = f", ETA {duration((self.total - self.done) / rate)}" if rate > 0 and self.done < self.total else ""
        return f"  {self.desc}: {self.done}/{self.total} {self.unit}, {rate:.1f}/s{eta} ({duration(elapsed)} so far)"

    def update(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        elif time.monotonic() - self.last > self.every_s:
            print(self.line(), flush=True)
            self.last = time.monotonic()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.done > self.initial:
            print(self.line().replace(" so far)", ")"), flush=True)
