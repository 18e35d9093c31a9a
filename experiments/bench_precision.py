"""Training-step time of a flow in 32-bit against bf16 autocast, on this machine's CPU.

Why: ``trainer=cpu_fast`` trains the flow under bf16 autocast, 2.7x faster than 32-bit on a CPU
with native bf16 (AVX512-BF16 or AMX). A CPU without it (most laptops, AVX2-only servers)
emulates bf16 and is far slower than 32-bit; dsn's ``precision: bf16-if-native`` picks 32-bit
there. This measures the difference on the machine it runs on, for a paper-size flow and a
small one, with the training step dsn runs (forward, NLL, backward, fused Adam; a batch of 24
images x 4 views):

    .venv/bin/python experiments/bench_precision.py [--steps 3] [--out experiments/results/precision/<name>.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import time
from pathlib import Path

import torch

from dsn.lit.precision import native_bf16
from dsn.model.flow import CouplingFlow
from dsn.model.loss import nll_loss

FLOWS = {  # name: (features, blocks, hidden) as in the presets
    "differsqueezenet (paper flow)": (384, 8, 2048),
    "squeezenet_full_1scale (paper flow)": (512, 8, 2048),
    "squeezenet_full_3scale_small": (1536, 5, 391),
}


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def step_seconds(n_features: int, n_blocks: int, hidden: int, bf16: bool, steps: int, batch: int) -> float:
    """Median seconds of one training step (after one warm-up step)."""
    torch.manual_seed(0)
    flow = CouplingFlow(n_features, n_blocks=n_blocks, hidden=hidden, clamp=3.0)
    opt = torch.optim.Adam(flow.parameters(), lr=2e-4, fused=True)
    x = torch.randn(batch, n_features)
    times = []
    for _ in range(steps + 1):
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = nll_loss(*flow(x))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t)
    return sorted(times[1:])[len(times[1:]) // 2]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3, help="timed steps per setting (median reported)")
    ap.add_argument("--batch", type=int, default=96, help="samples per step (24 images x 4 views)")
    ap.add_argument("--out", type=Path, default=None, help="write the table here as markdown")
    args = ap.parse_args(argv)
    caps = torch.backends.cpu.get_cpu_capability()
    head = (
        f"CPU: {cpu_name()}, {torch.get_num_threads()} threads, capability {caps}, native bf16: {native_bf16()}; "
        f"torch {torch.__version__}; {dt.date.today()}; batch {args.batch}, median of {args.steps} steps"
    )
    rows = ["| flow | parameters | 32-bit s/step | bf16 autocast s/step | bf16 / 32-bit |", "| --- " * 5 + "|"]
    print(head)
    for name, (f, b, h) in FLOWS.items():
        params = sum(p.numel() for p in CouplingFlow(f, n_blocks=b, hidden=h, clamp=3.0).parameters())
        fp32 = step_seconds(f, b, h, False, args.steps, args.batch)
        bf16 = step_seconds(f, b, h, True, args.steps, args.batch)
        rows.append(f"| {name} | {params / 1e6:.1f} M | {fp32:.3f} | {bf16:.3f} | {bf16 / fp32:.2f} |")
        print(rows[-1], flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(f"{head}\n\n" + "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
