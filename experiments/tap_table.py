"""The tap table: feature tap x head (paper flow, small flow, kNN, patch bank) x data set, image
AUROC of the last epoch, mean ± std over seeds, from the runs' metrics.json.

Flows count at the paper's schedule only (``--passes``, default 192; shorter runs are a different
model); baselines have one pass. Runs without rotations (`_norot`) are another protocol and stay out;
so do runs on a 64-view training bank (`_bank64`) and any run whose recorded `bank_views` is not 16
(None: fresh views every step): the bank is a factor of its own, in experiments/results/mt_reference/;
the tap table compares taps on the CPU tables' 16-view bank. Runs older than the `bank_views` record
count as 16 unless their name carries the marker.

.venv/bin/python experiments/tap_table.py experiments/results/cpu_tables/runs \
    experiments/results/cpu_bottle/differsqueezenet_192pass_s0 experiments/results/same_features/runs \
    experiments/results/mt_reference/runs --out experiments/results/same_features/tap_table.md
"""

import argparse
import sys
from pathlib import Path

from dsn.report import collect, features_of
from dsn.utils.tables import markdown_table, mean_std

PAPER_FLOW = (8, 2048)  # coupling blocks, hidden width
LEFT_OUT = ("_norot", "_bank64")  # run-name markers of the protocols the docstring keeps out
TABLE_BANK = 16  # training views per image of the CPU tables' bank


def head_class(m: dict) -> str:
    """The column a run belongs to: the flow's size class or the baseline's kind."""
    kind = m.get("detector", "flow")
    if kind != "flow":
        return "kNN" if kind == "knn" else "patch bank"
    size = (m.get("n_blocks"), m.get("hidden"))
    return "flow 8 x 2048 (paper)" if size == PAPER_FLOW else f"flow {size[0]} x {size[1]}"


def cell(ms: list[dict]) -> str:
    values = [100 * m["auroc"] for m in ms]
    views = {m.get("test_views") for m in ms} - {64}
    note = f", T={'/'.join(str(v) for v in sorted(views))}" if views else ""
    return mean_std(values, unit="seed", counted=True, note=note)


def table(runs: list[dict], passes: int) -> str:
    keep = [
        m
        for m in runs
        if not any(marker in m["model"] for marker in LEFT_OUT)
        and m.get("bank_views", TABLE_BANK) == TABLE_BANK
        and (m.get("detector", "flow") != "flow" or m["epochs"] == passes)
    ]
    categories = sorted({m["category"] for m in keep})
    heads = sorted({head_class(m) for m in keep}, key=lambda h: (not h.endswith("(paper)"), h))
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for m in keep:
        groups.setdefault((features_of(m), m["category"], head_class(m)), []).append(m)
    taps = sorted({f for f, _, _ in groups})
    body = []
    for tap in taps:
        for cat in categories:
            cells = [cell(groups[(tap, cat, h)]) if (tap, cat, h) in groups else "—" for h in heads]
            if any(c != "—" for c in cells):
                body.append([tap, cat, *cells])
    return markdown_table(["features (tap)", "data", *heads], body)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dirs", nargs="+", help="folders searched for runs' metrics.json")
    ap.add_argument("--passes", type=int, default=192, help="flow schedule that counts (passes)")
    ap.add_argument("--out", type=Path, help="markdown file to write (default: print only)")
    args = ap.parse_args(argv)
    text = f"Command: `python {' '.join(sys.argv)}`\n\n" + table(collect(args.dirs), args.passes)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
