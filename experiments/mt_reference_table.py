"""Write results/mt_reference/README.md from a (possibly unfinished) run's CSV log: its test-set learning curve.

.venv/bin/python experiments/mt_reference_table.py logs/mt_ref/differnet_paper_magnetic_tile_differnet_192p_s0
"""

import csv
import datetime as dt
import sys
from pathlib import Path

run = Path(sys.argv[1])
rows = list(csv.DictReader(open(run / "csv" / "version_0" / "metrics.csv")))
curve = [(int(r["epoch"]) + 1, 100 * float(r["curve/test_auroc"])) for r in rows if r.get("curve/test_auroc")]
last_pass = max(int(r["epoch"]) + 1 for r in rows if r.get("train/loss"))
ours = {
    8: 84.0,
    16: 84.7,
    24: 86.4,
    32: 85.7,
    40: 84.3,
    48: 84.1,
    56: 83.6,
    64: 82.0,
    72: 81.6,
    80: 81.8,
    88: 81.7,
    96: 80.5,
}  # experiments/results/cpu_tables/runs/differnet_paper_magnetic_tile_96p_s0/metrics.json
lines = [
    "# DifferNet on Magnetic Tile, the reference code's split (`magnetic_tile_differnet`)",
    "",
    'Command: `PLAN="differnet_paper magnetic_tile_differnet 192 0" OUT=logs/mt_ref '
    "RESULTS=experiments/results/mt_reference PIXEL_ROTATIONS=0 bash experiments/cpu_tables.sh` "
    "(CPU fast path: bf16 flow, 16-view training bank, 64 fixed test rotations; seed 0; paper "
    f"schedule of 192 passes), on the 2-core CPU VM; this table written {dt.date.today()} from the run's "
    f"CSV log by `{' '.join(['python', *sys.argv])}`.",
    "",
    f"**The run is unfinished**: {last_pass} of 192 passes trained when this was written (the "
    "session's end stopped it; its checkpoints stay outside git, so the command resumes it only where "
    "logs/mt_ref still is, and starts over elsewhere). Each row is the test-set AUROC after that "
    "many passes (the learning curve; with a constant learning rate it equals the last-epoch AUROC of "
    "a run of that length). Beside it, the same model, seed and schedule on dsn's own split "
    "(`magnetic_tile`, 2026-11-29 runs of `experiments/results/cpu_tables/`).",
    "",
    "| passes | reference split (`magnetic_tile_differnet`) | dsn's split (`magnetic_tile`) |",
    "| --- | --- | --- |",
]
lines += [f"| {p} | {a:.1f} | {ours.get(p, '—')} |" for p, a in curve]
lines += ["", "The DifferNet paper reports 97.7 (best epoch on the test set). One seed, an indication only."]
(Path(__file__).parent / "results" / "mt_reference" / "README.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
