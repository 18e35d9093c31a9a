"""How a training run's calls move between dsn's layers: the count issue 37 asks for ("climbs
back up at most 3 times"), measured on a real run rather than read off the code.

A debug run (``debug=default`` on a generated toy category, random weights, seconds) is traced
with ``sys.setprofile`` from ``dsn.run.training.train``. Every call into a dsn function is
attributed to the nearest dsn frame below it on the stack (Lightning and torch frames in
between are skipped: ``trainer.fit`` calling a module's hook counts as the run calling the
module). Counted once per distinct pair of functions (a training loop calls the same hook many
times):

- ``calls``: distinct caller -> callee function pairs that cross from one dsn module to another;
- ``modules``: dsn modules the run enters;
- ``climbs``: those pairs whose callee sits in a higher layer than its caller (the layers of
  ``dsn/__init__.py``: commands > run > config > lit > results = deploy > model = data > utils):
  a lower layer calling back up through a callable it was handed. Each is listed.

    .venv/bin/python experiments/call_trace.py --mode cached > experiments/results/call_trace/cached.json
    .venv/bin/python experiments/call_trace.py --mode fresh > experiments/results/call_trace/fresh.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

LEVEL = {"commands": 6, "run": 5, "config": 4, "lit": 3, "results": 2, "deploy": 2, "model": 1, "data": 1, "utils": 0}


def layer(module: str) -> str:
    parts = module.split(".")
    return "utils" if len(parts) == 1 else parts[1] if parts[1] in LEVEL else "commands"


def toy_category(root: Path) -> None:
    """6 training and 4 test images (2 defective, with masks) of random pixels, 40 x 32 px."""
    rng = np.random.default_rng(0)
    for folder, n in (("train/good", 6), ("test/good", 2), ("test/scratch", 2)):
        for i in range(n):
            path = root / "toy" / folder / f"{i:03d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 255, (32, 40, 3), dtype=np.uint8)).save(path)
    for i in range(2):
        mask = root / "toy" / "ground_truth" / "scratch" / f"{i:03d}_mask.png"
        mask.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((rng.random((32, 40)) > 0.8).astype(np.uint8) * 255).save(mask)


def traced_run(overrides: list[str]) -> tuple[set, set]:
    from hydra import compose, initialize_config_dir

    from dsn import CONF_DIR
    from dsn.run.training import train

    pairs: set[tuple[str, str, str, str]] = set()
    entered: set[str] = set()

    def dsn_frame(frame):
        while frame is not None and not frame.f_globals.get("__name__", "").startswith("dsn"):
            frame = frame.f_back
        return frame

    def profile(frame, event, arg):
        if event != "call":
            return
        callee = frame.f_globals.get("__name__", "")
        if not callee.startswith("dsn"):
            return
        entered.add(callee)
        caller = dsn_frame(frame.f_back)
        if caller is not None and caller.f_globals["__name__"] != callee:
            pairs.add((caller.f_globals["__name__"], caller.f_code.co_name, callee, frame.f_code.co_name))

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    from hydra.core.hydra_config import HydraConfig

    HydraConfig.instance().set_config(cfg)
    sys.setprofile(profile)
    try:
        with contextlib.redirect_stdout(sys.stderr):  # the run's progress lines: stdout holds the JSON
            train(cfg)
    finally:
        sys.setprofile(None)
    return pairs, entered


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=("cached", "fresh"), default="cached", help="feature_cache.train true / false")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        toy_category(Path(tmp) / "data")
        overrides = [
            "debug=default",
            f"data.root={tmp}/data",
            "data.category=toy",
            "data.image_size=32",
            "data.batch_size=3",
            f"feature_cache.train={args.mode == 'cached'}",
            f"data.cache_dir={tmp}/cache",  # the caches in use, and empty: every run computes them
            f"feature_cache.dir={tmp}/cache",
            f"hydra.run.dir={tmp}/run",
            f"paths.output_dir={tmp}/run",
        ]
        pairs, entered = traced_run(overrides)
    climbs = sorted(p for p in pairs if LEVEL[layer(p[2])] > LEVEL[layer(p[0])])
    print(
        json.dumps(
            {
                "command": f"experiments/call_trace.py --mode {args.mode}",
                "modules": len(entered),
                "calls": len(pairs),
                "climbs": len(climbs),
                "climbs_listed": [f"{a}.{f} -> {b}.{g}" for a, f, b, g in climbs],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
