"""Finding the images of one category in MVTec AD layout.

<root>/<category>/train/good/*           defect-free training images
<root>/<category>/test/good/*            defect-free test images      (label 0)
<root>/<category>/test/<defect>/*        defective test images        (label 1)
<root>/<category>/ground_truth/<defect>/<stem>_mask.png               (optional)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from dsn.data.images import IMAGE_SUFFIXES, is_image_file

GOOD = "good"


@dataclass(frozen=True)
class Sample:
    """One image file with its label (0 good, 1 defective), defect type and mask file, if any."""

    path: Path
    label: int
    defect: str
    mask: Path | None = None


def category_dir(root: str | Path, category: str) -> Path:
    d = Path(root).expanduser() / category
    if not d.is_dir():
        raise FileNotFoundError(
            f"category folder {d} does not exist: set data.root to the folder that "
            f"holds '{category}/' (MVTec AD layout), or data.category to one inside it"
        )
    return d


def _images_in(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    skipped = [p.name for p in files if p.is_file() and p.suffix.lower() not in IMAGE_SUFFIXES]
    if skipped:
        warnings.warn(
            f"{folder}: skipping {len(skipped)} file(s) that are not images by their suffix "
            f"({', '.join(skipped[:3])}{' ...' if len(skipped) > 3 else ''})",
            stacklevel=3,
        )
    return [p for p in files if is_image_file(p)]


def train_samples(root: str | Path, category: str) -> list[Sample]:
    folder = category_dir(root, category) / "train" / GOOD
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{folder} does not exist: the training images of '{category}' must be in train/good/ (MVTec AD layout)"
        )
    paths = _images_in(folder)
    if not paths:
        raise FileNotFoundError(f"{folder} holds no images: put the defect-free training images there")
    return [Sample(p, 0, GOOD) for p in paths]


def test_samples(root: str | Path, category: str) -> list[Sample]:
    """All test images, good first, then each defect folder in name order, masks attached."""
    cat = category_dir(root, category)
    test = cat / "test"
    if not test.is_dir():
        raise FileNotFoundError(
            f"{test} does not exist: '{category}' needs test/good/ and test/<defect>/ folders (MVTec AD layout)"
        )
    defects = sorted(d.name for d in test.iterdir() if d.is_dir() and d.name != GOOD)
    samples = [Sample(p, 0, GOOD) for p in _images_in(test / GOOD)] if (test / GOOD).is_dir() else []
    for defect in defects:
        for p in _images_in(test / defect):
            mask = cat / "ground_truth" / defect / f"{p.stem}_mask.png"
            samples.append(Sample(p, 1, defect, mask if mask.is_file() else None))
    if not samples:
        raise FileNotFoundError(f"{test} holds no images")
    return samples
