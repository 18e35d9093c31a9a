"""Summarise a device matrix's CSV logs into markdown: final test AUROC where the run finished
its schedule and test, else the last test-set curve point it reached (labelled as such).

    python experiments/device/summarize.py <unpacked tar dir>/<category> > summary.md
"""

from __future__ import annotations

import csv
import statistics
import sys
from pathlib import Path


def read_run(run: Path) -> dict:
    rows = list(csv.DictReader(open(run / "csv" / "version_0" / "metrics.csv")))
    curve = [(int(r["epoch"]) + 1, float(r["curve/test_auroc"])) for r in rows if r.get("curve/test_auroc")]
    final = [float(r["test/auroc"]) for r in rows if r.get("test/auroc")]
    return {"name": run.name, "curve": curve, "final": final[-1] if final else None}


def main(folder: str) -> None:
    runs = [read_run(d) for d in sorted(Path(folder).iterdir()) if (d / "csv").is_dir()]
    print("| run | epochs reached | final test AUROC (last epoch, 192) | last curve point (epoch: AUROC) |")
    print("| --- | --- | --- | --- |")
    for r in runs:
        last = r["curve"][-1] if r["curve"] else (0, float("nan"))
        fin = f"{100 * r['final']:.2f}" if r["final"] is not None else "— (not finished)"
        print(f"| {r['name']} | {last[0]} | {fin} | {last[0]}: {100 * last[1]:.2f} |")
    groups: dict[str, list[float]] = {}
    for r in runs:
        if r["final"] is not None:
            groups.setdefault(r["name"].rsplit("_s", 1)[0], []).append(100 * r["final"])
    for g, v in groups.items():
        sd = statistics.stdev(v) if len(v) > 1 else 0.0
        print(
            f"\n**{g}**: final test AUROC {statistics.mean(v):.2f} ± {sd:.2f} over {len(v)} seeds "
            f"({', '.join(f'{x:.2f}' for x in v)})"
        )


if __name__ == "__main__":
    main(sys.argv[1])
