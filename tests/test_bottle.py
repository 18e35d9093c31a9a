"""The real thing, small: DifferSqueezeNet with the real ImageNet SqueezeNet weights on the real
MVTec AD ``bottle`` images separates defective from good bottles.

The schedule is cut to about two minutes on 2 cores, three on the one core a suite worker gets
(448 px as in the paper, but a narrower, shallower flow, 32 passes, 4 cached training views and 4
test rotations per image); see the bounds' justification below. The patch bank's test also
checks its localisation (pixel AUROC and AUPRO of its maps). Embedding the views costs most
of that, so the three tests share one cache folder: the kNN, on exactly the flow's features and
views, reuses the flow test's embeddings (run alone, it computes them itself).
"""

import pytest
from conftest import compose

from dsn.train import train

pytestmark = pytest.mark.slow  # minutes on 2 cores: `make test-slow`

# Measured on the flow test's configuration (seed 0, 2-core CPU): AUROC 0.930 (2026-11-30, 4 training
# and 4 test views); with 8 and 8 views it was 0.852, later 0.879; chance is 0.5; the paper reports
# 1.00 for the full 192-pass schedule with a 2048-wide flow.
AUROC_BOUND = 0.75
# The same-feature baselines, measured on the configurations of their tests below (seed 0,
# 2026-11-29, 2-core CPU): global kNN on the flow's 128 x 3 features (4 bank views, 4 test views)
# 0.960; PatchCore-style bank (10,000 random patches of 784 x 209) 0.999. Bounds keep a margin of
# 0.05-0.06 below; a broken tap, pooling, bank or distance gives ~0.5.
KNN_BOUND = 0.90
PATCH_BOUND = 0.95
# Its anomaly maps (patch distances, every test image; 2026-11-30): pixel AUROC 0.977, AUPRO 0.935.
# With each map min-max scaled per image before pooling (dsn until that day) the same maps gave
# 0.937 and 0.803: the bounds sit between, so a map that loses the images' common scale fails.
PATCH_PIXEL_AUROC_BOUND = 0.95
PATCH_AUPRO_BOUND = 0.85


# the flow's and the kNN's views: 4 seeded rotations per training image, 4 fixed ones per test image
VIEWS = ["model.views.test_views=4", "feature_cache.bank_views=4"]


@pytest.fixture(scope="module")
def bottle_cache(tmp_path_factory):
    """One folder of decoded images and embedded views for the module's runs."""
    return tmp_path_factory.mktemp("bottle_cache")


def bottle_run(tmp_path, mvtec_root, squeezenet_weights, cache, *extra, maps: bool = False) -> dict:
    """A run on the real bottle images with the real SqueezeNet weights, its caches in ``cache``;
    figures are tested on the debug model, separation is the point here (``maps``: only the
    anomaly map of every test image, for pixel AUROC and AUPRO)."""
    cfg = compose(
        "train",
        [
            f"data.root={mvtec_root}",
            f"data.cache_dir={cache}",
            f"feature_cache.dir={cache}",
            "data.category=bottle",
            f"model.features.weights={squeezenet_weights}",
            "logger=csv",
            "trainer.accelerator=cpu",
            "trainer.enable_progress_bar=false",
            *(
                ["figures.gradient_maps=0", "figures.map_rotations=1", "figures.pixel_auroc=true"]
                if maps
                else ["figures.enabled=false"]
            ),
            *extra,
        ],
        tmp_path,
    )
    return train(cfg)


def test_bottle_separates_defects(tmp_path, mvtec_root, squeezenet_weights, bottle_cache):
    extra = ["trainer.max_epochs=32", "model.head.hidden=512", "model.head.n_blocks=4", *VIEWS]
    metrics = bottle_run(tmp_path, mvtec_root, squeezenet_weights, bottle_cache, *extra)
    assert metrics["n_test_good"] == 20 and metrics["n_test_defective"] == 63
    # Measured: 0.930 at the last epoch. The bound keeps a margin of more than 0.1 below that (and
    # below the 0.852-0.879 of 8 views) and 0.25 above chance: a broken tap, rotation, pooling or
    # flow gives ~0.5.
    assert metrics["auroc"] > AUROC_BOUND, metrics["auroc"]


def test_knn_on_the_flows_features_separates_bottle_defects(tmp_path, mvtec_root, squeezenet_weights, bottle_cache):
    m = bottle_run(tmp_path, mvtec_root, squeezenet_weights, bottle_cache, "model=knn", *VIEWS)
    assert m["bank_rows"] == 209 * 4 and m["epochs"] == 1
    assert m["auroc"] > KNN_BOUND, m["auroc"]


def test_patchcore_separates_bottle_defects(tmp_path, mvtec_root, squeezenet_weights, bottle_cache):
    m = bottle_run(
        tmp_path,
        mvtec_root,
        squeezenet_weights,
        bottle_cache,
        "model=patchcore",
        "model.head.bank_size=10000",
        maps=True,
    )
    assert m["bank_rows"] == 10000 and m["epochs"] == 1
    assert m["auroc"] > PATCH_BOUND, m["auroc"]
    assert m["pixel_auroc"] > PATCH_PIXEL_AUROC_BOUND, m["pixel_auroc"]
    assert m["pixel_aupro"] > PATCH_AUPRO_BOUND, m["pixel_aupro"]
