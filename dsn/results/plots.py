"""Figures of a run, as PNG files: ROC curve, score histogram (the paper's Figs 4-7) and gradient
maps beside the image and its ground-truth mask (Fig. 3)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torchmetrics.functional.classification import binary_roc  # noqa: E402

from dsn.model.map_filters import unit_range  # noqa: E402
from dsn.results.metrics import image_auroc, rank_scale  # noqa: E402


def roc_curve_png(scores: torch.Tensor, labels: torch.Tensor, title: str, path: Path) -> Path:
    fpr, tpr, _ = binary_roc(rank_scale(scores).float(), labels.long())
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot(fpr.numpy(), tpr.numpy(), lw=2, label=f"AUROC {image_auroc(scores, labels):.3f}")
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title)
    ax.legend(loc="lower right")
    return _save(fig, path)


def score_histogram_png(scores: torch.Tensor, labels: torch.Tensor, title: str, path: Path) -> Path:
    """Both classes as densities (a class of 20 images stays visible beside one of 63), each filled
    lightly under its own outline; the counts in the legend."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    bins = torch.linspace(float(scores.min()), float(scores.max()), 31).numpy()
    for label, name, colour in ((1, "defective", "tab:red"), (0, "good", "tab:blue")):  # good drawn on top
        values = scores[labels == label].numpy()
        if len(values):
            style = dict(bins=bins, density=True, color=colour)
            ax.hist(values, histtype="stepfilled", alpha=0.3, **style)
            ax.hist(values, histtype="step", linewidth=1.8, label=f"{name} ({len(values)} images)", **style)
    ax.set(xlabel="anomaly score (a flow's: mean z²)", ylabel="density", title=title)
    ax.legend()
    return _save(fig, path)


def gradient_maps_png(
    images: torch.Tensor, maps: torch.Tensor, masks: torch.Tensor, titles: list[str], path: Path, map_name: str
) -> Path:
    """One row per image: the image, its map over it (``map_name``: what the map is), the
    ground-truth mask."""
    n = len(images)
    fig, axes = plt.subplots(n, 3, figsize=(7.5, 2.5 * n), squeeze=False)
    for row, (img, m, mask, t) in enumerate(zip(images, maps, masks, titles)):
        rgb = img.permute(1, 2, 0).numpy()
        axes[row, 0].imshow(rgb)
        axes[row, 0].set_title(t, fontsize=8)
        shown = overlay(axes[row, 1], img, m)
        axes[row, 1].set_title(map_name, fontsize=8)
        colour_bar(fig, axes[row, 1], shown)
        axes[row, 2].imshow(mask.squeeze(0).numpy(), cmap="gray", vmin=0, vmax=1)
        axes[row, 2].set_title("ground truth", fontsize=8)
        for ax in axes[row]:
            ax.axis("off")
    return _save(fig, path)


def overlay(ax, image: torch.Tensor, heat: torch.Tensor):
    """A map over its uint8 image [3, H, W], in the jet colours of the paper's Fig. 3, scaled to
    its own [min, max] as the reference draws it (the map itself stays on the model's scale);
    returns the map's image, for a colour bar."""
    ax.imshow(image.permute(1, 2, 0).cpu().numpy())
    shown = ax.imshow(unit_range(heat).cpu().numpy(), cmap="jet", alpha=0.5, vmin=0, vmax=1)
    ax.axis("off")
    return shown


def colour_bar(fig, ax, shown) -> None:
    bar = fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.02)
    bar.set_label("map, this image's min to max", fontsize=7)
    bar.ax.tick_params(labelsize=6)


def heat_map_png(image: torch.Tensor, heat: torch.Tensor, path: Path, title: str = "") -> Path:
    """One image with its map over it and a colour bar (dsn-predict --heatmaps); ``title``: its
    score and verdict."""
    fig, ax = plt.subplots(figsize=(4.6, 4))
    colour_bar(fig, ax, overlay(ax, image, heat))
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
