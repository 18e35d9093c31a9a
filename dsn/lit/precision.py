"""The trainer's precision on the machine at hand: bf16 only where the hardware does it natively.

``trainer=cpu_fast`` trains the flow under bf16 autocast, which is 2.7x faster than 32-bit on a
CPU with AVX512-BF16 or AMX. A CPU without them (AVX2-only servers, most laptops) emulates bf16
and runs the same step many times slower than 32-bit (``experiments/results/precision/``), so
that preset asks for ``bf16-if-native``: bf16-mixed where the device has native bf16, 32-true
elsewhere. An explicit ``bf16-mixed`` is kept as asked, with a warning where it is emulated.
The precision a run really used is what its ``metrics.json`` records.
"""

from __future__ import annotations

import warnings

import torch

IF_NATIVE = "bf16-if-native"


def native_bf16(device_type: str = "cpu") -> bool:
    """Whether ``device_type`` computes bf16 matrix products in hardware."""
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device_type == "cpu":
        cpu = getattr(torch, "cpu", None)  # private probes; absent means "not known to be native"
        probes = [getattr(cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
        return any(p() for p in probes if p is not None)
    return False  # other accelerators: assume not, 32-bit is always correct


def device_type(accelerator: str) -> str:
    """The torch device type a trainer with ``accelerator`` will run on."""
    accelerator = str(accelerator).lower()
    if accelerator in ("gpu", "cuda"):
        return "cuda"
    if accelerator == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return accelerator


def resolve_precision(precision, accelerator) -> str | int:
    """The Lightning precision to train with for ``trainer.precision`` = ``precision``."""
    kind = device_type(accelerator)
    if precision == IF_NATIVE:
        return "bf16-mixed" if native_bf16(kind) else "32-true"
    if str(precision).startswith("bf16") and kind == "cpu" and not native_bf16("cpu"):
        warnings.warn(
            f"trainer.precision={precision} on a CPU without native bf16 "
            f"(capability {torch.backends.cpu.get_cpu_capability()}): bf16 is emulated here, about 80-100x "
            f"slower than 32-bit for the paper's flows (experiments/results/precision/); "
            f"use trainer.precision={IF_NATIVE} (trainer=cpu_fast does) or 32-true",
            stacklevel=2,
        )
    return precision
