"""The rows a scoring command gives for its command-line inputs: files, folders (searched
recursively) and glob patterns, each expanded in the order given; an input that cannot be scored
(a broken link, an empty folder, a pattern matching nothing, a file that is not an image) still
gives one row, with its reason. Shared by ``dsn-predict`` and the torch-free edge runtime, so both
give the same rows for the same inputs."""

from __future__ import annotations

import glob
import math
import os
from dataclasses import dataclass
from pathlib import Path

from dsn.utils.image_files import IMAGE_SUFFIXES, is_image_file
from dsn.utils.verdict import normalized_score, verdict


@dataclass(frozen=True)
class Item:
    """One row of the output: an image file to score, or an input that cannot be (``error``)."""

    path: str
    error: str = ""


def expand_input(item: str) -> list[Item]:
    """The rows one command-line argument gives: its image files, or one error row saying why none."""
    p = Path(item)
    if p.is_symlink() and not p.exists():
        return [Item(item, f"{item} is a broken link: its target {os.readlink(p)} does not exist")]
    if p.is_dir():
        images = sorted(f for f in p.rglob("*") if is_image_file(f))
        return [Item(str(f)) for f in images] or [
            Item(item, f"folder {item} holds no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
        ]
    if p.exists():
        if not is_image_file(p):
            return [
                Item(item, f"{item} is not an image file by its name (expected {', '.join(sorted(IMAGE_SUFFIXES))})")
            ]
        return [Item(item)]
    matches = sorted(glob.glob(item, recursive=True))
    if not matches:
        return [Item(item, f"no file, folder or glob match for '{item}'")]
    return [row for m in matches for row in expand_input(m)]


def expand_inputs(inputs: list[str]) -> list[Item]:
    """Every argument gives at least one row, in the order given."""
    return [row for item in inputs for row in expand_input(item)]


COLUMNS = ["path", "score", "normalized_score", "verdict", "error"]


def error_row(path: str, error: str) -> dict:
    return {"path": path, "score": "", "normalized_score": "", "verdict": "error", "error": error}


def score_row(path: str, score: float, threshold: float, low: float, high: float) -> dict:
    """The row of a scored image, from the stored decision (threshold and held-out good range)."""
    n = normalized_score(score, threshold, low, high)
    return {
        "path": path,
        "score": round(score, 6),
        "normalized_score": "" if math.isnan(n) else round(n, 4),
        "verdict": verdict(score, threshold),
        "error": "",
    }
