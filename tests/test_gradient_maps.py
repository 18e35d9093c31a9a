"""Gradient maps: on the model's one scale (pixel metrics pool them; only drawing scales each),
and rotated back correctly (a map follows its image's rotation)."""

import torch
from conftest import tiny_model

from dsn.model.gradient_maps import gradient_map


def test_map_follows_the_image():
    torch.manual_seed(0)
    model = tiny_model(n_blocks=1, hidden=16)
    img = torch.rand(3, 64, 64)
    img[:, 40:56, 8:20] = 1.0  # a bright off-centre patch
    m = gradient_map(model, img, n_rotations=4, sigma=1.0)
    assert m.shape == (64, 64) and m.min() >= 0 and m.max() > 0
    # the 4 rotations are closed under 90-degree turns, so turning the image turns the map
    m_rot = gradient_map(model, torch.rot90(img, 1, (1, 2)), n_rotations=4, sigma=1.0)
    # (compared relative to the map's peak: raw gradient maps of this tiny model are ~1e-4)
    torch.testing.assert_close(m_rot / m.max(), torch.rot90(m, 1, (0, 1)) / m.max(), atol=2e-3, rtol=0)


def test_maps_keep_the_models_scale_across_images():
    """A faint image's map stays faint: per-image min-max scaling would lift it to 1 and make
    pooled pixel AUROC and AUPRO count its faintest response as a detection."""
    torch.manual_seed(0)
    model = tiny_model(n_blocks=1, hidden=16)
    img = torch.rand(3, 64, 64)
    m = gradient_map(model, img, n_rotations=2, sigma=1.0)
    # the flow's score is a sum of squares: scaling the input's contrast changes the gradient's size
    m_faint = gradient_map(model, 0.5 + 0.01 * (img - 0.5), n_rotations=2, sigma=1.0)
    assert not torch.allclose(m_faint.max(), m.max(), rtol=0.05)
