"""Add the identity (dsn/results/run_identity.py) to metrics files written before runs recorded
it (2026-12-06), from each run's own ``.hydra/config.yaml`` and the weights file it names, with the
same function a run uses today. The file is marked ``identity_added`` (when, how); files that
already have an identity are left alone, so running this twice changes nothing.

    python experiments/add_identity.py experiments/results/heads/runs
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from omegaconf import OmegaConf

from dsn.lit.modules import effective_hparams, head_settings_in
from dsn.model.extractors import build_features
from dsn.run.score_and_report import identity_fields
from dsn.utils.atomic import write_json

MARK = "2026-12-06 by experiments/add_identity.py from the run's .hydra/config.yaml and its weights file"


def add_identity(run_dir: Path) -> bool:
    metrics_file, config_file = run_dir / "metrics.json", run_dir / ".hydra" / "config.yaml"
    metrics = json.loads(metrics_file.read_text())
    if metrics.get("identity") or not config_file.is_file():
        return False
    cfg = OmegaConf.load(config_file)
    overrides = (
        OmegaConf.load(run_dir / ".hydra" / "overrides.yaml")
        if (run_dir / ".hydra" / "overrides.yaml").is_file()
        else []
    )
    hparams = effective_hparams(OmegaConf.to_container(cfg.model, resolve=True), head_settings_in(overrides))
    features = build_features(hparams["features"])[0]
    metrics.update(identity_fields(cfg, hparams, features, metrics["precision"]), identity_added=MARK)
    write_json(metrics_file, metrics)
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+")
    args = ap.parse_args()
    runs = sorted({f.parent for d in args.dirs for f in Path(d).rglob("metrics.json")})
    added = [r for r in runs if add_identity(r)]
    print(f"identity added to {len(added)} of {len(runs)} runs")


if __name__ == "__main__":
    main()
