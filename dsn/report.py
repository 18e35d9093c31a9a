"""``dsn-report``: gather the metrics files of runs (e.g. a multirun over seeds) into one table.

Per (model, category): image AUROC of the last epoch, mean +- std over seeds (the headline);
pixel AUROC and AUPRO of the anomaly maps where measured; the paper's Table 2 number beside it; and,
labelled as the paper's protocol, the best test-set AUROC over the learning curve (an optimistic
figure, selected on the test set, shown only for comparison with the published numbers).

    dsn-report logs/differsqueezenet_paper/multiruns/<date> [more dirs] --out logs/report
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from dsn.results.paper_numbers import PAPER_AUROC
from dsn.utils.tables import markdown_table, mean_std

# what a run writes, and a later dsn-eval's file copied beside it (experiments/cpu_tables.sh):
# that copy belongs to the run of its folder
METRICS_FILES = ("metrics.json", "pixel_metrics.json")


def collect(dirs: list[str]) -> list[dict]:
    """One record per trained model. A ``dsn-eval`` of a run's checkpoint (e.g. to add pixel
    AUROC afterwards) is merged into that run's record: it fills what the run left empty and is
    never counted as another seed."""
    by_model: dict[str, dict] = {}
    for d in dirs:
        for f in sorted(p for name in METRICS_FILES for p in Path(d).rglob(name)):
            m = json.loads(f.read_text())
            if m.get("auroc") is None:
                continue
            m["_file"] = str(f)
            beside = f.parent / "metrics.json"
            of_run = json.loads(beside.read_text()) if f != beside and beside.is_file() else m
            key = str(Path(of_run["checkpoint"]).resolve()) if of_run.get("checkpoint") else str(beside)
            if key in by_model:
                train, other = (m, by_model[key]) if "train_path" in m else (by_model[key], m)
                m = {**train, **{k: v for k, v in other.items() if train.get(k) is None}}
            by_model[key] = m
    if not by_model:
        raise SystemExit(f"no metrics.json with an AUROC under {', '.join(dirs)}")
    return list(by_model.values())


def features_of(m: dict) -> str:
    """What the detector reads: backbone, tap width(s) and scales."""
    if m.get("patch_taps"):
        return f"{m['backbone']} patches {'+'.join(str(t) for t in m['patch_taps'])}"
    return f"{m['backbone']} {m.get('n_features')} x {m.get('n_scales')}"


def head_of(m: dict) -> str:
    """What sits on the features: the head's kind, its trained parameters, its stored rows."""
    params = m.get("head_params") or m.get("flow_params") or 0  # flow_params: files before heads were general
    size = [f"{params / 1e6:.1f} M"] if params else []
    bank = [f"bank {m['bank_rows']:,}"] if m.get("bank_rows") else []
    return " ".join([m.get("detector", "flow"), *size, *bank])


META_EPOCH = 8  # passes between test-curve points in the reference and dsn's default (check_val_every_n_epoch)


def swing(runs: list[dict], points: int = 4) -> str:
    """The largest range (max - min, AUROC points) of a run's last ``points`` test-curve points,
    worst seed: how much a score read near the end of training depends on the epoch it is read
    at. Only points one meta-epoch apart measure that: a run with a sparser curve (a point every 48
    passes, to save the curve's scoring time) has no swing, and the row says how many of its seeds
    have one. "—" when none has (a one-pass baseline, a short run)."""
    ranges = []
    for m in runs:
        tail = sorted(m.get("curve_test_auroc", []))[-points:]
        if len(tail) == points and all(b[0] - a[0] == META_EPOCH for a, b in zip(tail, tail[1:])):
            ranges.append(100 * (max(a for _, a in tail) - min(a for _, a in tail)))
    if not ranges:
        return "—"
    return f"{max(ranges):.1f}" + (_some_seeds(len(ranges), len(runs)) if len(ranges) < len(runs) else "")


def _some_seeds(have: int, seeds: int) -> str:
    """The note on a figure that only ``have`` of a row's ``seeds`` runs have."""
    return f" ({have} of {seeds} seeds)"


def _of_seeds(values: list[float], seeds: int) -> str:
    """mean ± std of a measurement that only some of a row's seeds have, saying how many (a mean of
    one value already says "1 run")."""
    return mean_std(values) + (_some_seeds(len(values), seeds) if 1 < len(values) < seeds else "")


def summarise(runs: list[dict]) -> list[dict]:
    groups: dict[tuple[str, str, int], list[dict]] = {}  # runs of different lengths never pool
    for m in runs:
        groups.setdefault((m["model"], m["category"], m["epochs"]), []).append(m)
    rows = []
    for (model, category, epochs), ms in sorted(groups.items()):
        last = [100 * m["auroc"] for m in ms]
        best = [100 * max([m["auroc"]] + [c[1] for c in m.get("curve_test_auroc", [])]) for m in ms]
        pix = [100 * m["pixel_auroc"] for m in ms if m.get("pixel_auroc") is not None]
        pro = [100 * m["pixel_aupro"] for m in ms if m.get("pixel_aupro") is not None]
        # pixel AUROC pooled before 2026-11-30 had each map min-max scaled per image: say so
        per_image = any(m.get("pixel_auroc") is not None and m.get("map_scale") != "common" for m in ms)
        rows.append(
            {
                "model": model,
                "category": category,
                "features": features_of(ms[0]),
                "head": head_of(ms[0]),
                "seeds": len(ms),
                "epochs": epochs,
                "auroc_last_epoch": mean_std(last),
                "pixel_auroc": _of_seeds(pix, len(ms)) + (" (maps min-max per image)" if per_image else ""),
                "pixel_aupro": _of_seeds(pro, len(ms)),
                "paper": PAPER_AUROC.get(model, {}).get(category, "—"),
                "best_epoch_on_test_paper_protocol": mean_std(best),
                "swing_last_4": swing(ms),
                "seed_values": " ".join(f"{v:.1f}" for v in last),
            }
        )
    return rows


def write(rows: list[dict], out: Path, command: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "report.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    header = [
        "model",
        "category",
        "features",
        "head",
        "seeds",
        "passes",
        "image AUROC, last epoch (mean ± std)",
        "pixel AUROC",
        "pixel AUPRO (FPR ≤ 0.3)",
        "paper (Table 2)",
        "best epoch on test — paper's protocol, optimistic",
        "swing over the last 4 curve points (worst seed)",
        "per seed",
    ]
    table = markdown_table(
        header,
        [
            [
                r["model"],
                r["category"],
                r["features"],
                r["head"],
                r["seeds"],
                r["epochs"],
                f"**{r['auroc_last_epoch']}**",
                r["pixel_auroc"],
                r["pixel_aupro"],
                r["paper"],
                r["best_epoch_on_test_paper_protocol"],
                r["swing_last_4"],
                r["seed_values"],
            ]
            for r in rows
        ],
    )
    (out / "report.md").write_text(f"Command: `{command}`\n\n" + table)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--out", default="logs/report")
    args = ap.parse_args(argv)
    rows = summarise(collect(args.dirs))
    write(rows, Path(args.out), "dsn-report " + " ".join(args.dirs) + f" --out {args.out}")
    print((Path(args.out) / "report.md").read_text())


if __name__ == "__main__":
    main()
