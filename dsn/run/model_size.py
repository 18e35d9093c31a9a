"""One model preset measured as the paper's Table 3 measures it (``dsn-size``): parameters,
model file size, peak memory while scoring one image and latency per image; and the table of
several presets. Run once per preset in a fresh process: peak memory is a per-process figure."""

from __future__ import annotations

import tempfile
from pathlib import Path

from dsn.utils.tables import markdown_table

# local weights file of a backbone in --weights-dir (others come from torchvision or their package)
WEIGHT_FILES = {"squeezenet1_1": "squeezenet1_1_imagenet.pth", "alexnet": "alexnet_features_imagenet.pth"}


def training_rows(hp: dict, train_images: int, bank_views: int, rows_per_view: int) -> int:
    """Rows a fitted head sees after ``train_images`` images (a bank's size, and so the model file
    and the scoring cost, depend on the training set; a trained head's do not)."""
    per_image = bank_views if hp["views"]["train_rotations"] else 1
    return train_images * per_image * rows_per_view


def measure_one(
    name: str, weights_dir: str | None, image_size: int, views: int, repeats: int, train_images: int, bank_views: int
) -> dict:
    import torch

    from dsn.config.instantiate import model_preset
    from dsn.model.detector import Detector
    from dsn.model.heads import FittedHead
    from dsn.model.views import fixed_angles
    from dsn.utils.memory import peak_memory_mb
    from dsn.utils.timing import median_ms

    hp = model_preset(name)
    image_size, views = image_size or hp["image_size"], views or hp["views"]["test_views"]
    backbone = hp["features"]["backbone"]
    file = WEIGHT_FILES.get(backbone)
    weights = str(Path(weights_dir) / file) if weights_dir and file else "imagenet"
    rss_before = peak_memory_mb()["peak_rss_mb"]
    model = Detector.from_hparams({**hp, "features": {**hp["features"], "weights": weights}}).eval()
    if isinstance(model.head, FittedHead):  # fitted on as many rows as real training data gives
        n = training_rows(hp, train_images, bank_views, model.layout.rows)
        stream = model.head.stream(n)  # keeps only what the head keeps, as in training
        for start in range(0, n, 65_536):
            stream.add(torch.randn(min(65_536, n - start), model.layout.width))
        model.head.fit(stream.rows())
    with tempfile.TemporaryDirectory() as d:
        torch.save(model.state_dict(), Path(d) / "model.pt")
        file_mb = (Path(d) / "model.pt").stat().st_size / 2**20
    image = torch.randint(0, 256, (1, 3, image_size, image_size), dtype=torch.uint8)
    angles = fixed_angles(views).unsqueeze(0)
    with torch.no_grad():
        latency = median_ms(lambda: model.score(image, angles), repeats)
    return {
        "preset": name,
        "backbone": backbone,
        **model.size(),
        "model_file_mb": round(file_mb, 1),
        "peak_rss_mb_scoring_one_image": peak_memory_mb()["peak_rss_mb"],
        "rss_mb_after_imports": rss_before,
        "test_views": views,
        "latency_ms_per_image": round(latency, 1),
    }


def size_table(rows: list[dict]) -> str:
    """The presets' measurements as a markdown table."""
    header = [
        "preset",
        "backbone params",
        "flow params",
        "bank (rows x width)",
        "model file (MB)",
        "peak RSS scoring 1 image (MB)",
        "RSS after imports (MB)",
        "latency / image (ms)",
        "test views T",
    ]
    return markdown_table(
        header,
        [
            [
                f"{r['preset']} ({r['backbone']})",
                f"{r['backbone_params']:,}",
                f"{r['flow_params']:,}",
                f"{r['bank_rows']:,} x {r['bank_width']}" if r["bank_rows"] else "-",
                r["model_file_mb"],
                r["peak_rss_mb_scoring_one_image"],
                r["rss_mb_after_imports"],
                r["latency_ms_per_image"],
                r["test_views"],
            ]
            for r in rows
        ],
    )
