"""Views: our batched rotation agrees with torchvision's, and features of a view are the same
whichever way (one image, a batch, a bank) they are computed."""

import pytest
import torch
import torchvision.transforms.v2.functional as TF
from conftest import preset

from dsn.model import Detector
from dsn.model.stack_features import embed_stack
from dsn.model.views import fixed_angles, jitter, jitter_factors, rotate


@pytest.mark.parametrize("angle", [90.0, 180.0, -90.0])
def test_right_angle_rotations_are_exact(angle):
    img = torch.rand(1, 3, 16, 16)
    ours = rotate(img, torch.tensor([angle]), "nearest")
    ref = torch.rot90(img, k=int(angle // 90) % 4, dims=(2, 3))
    torch.testing.assert_close(ours, ref)


@pytest.mark.parametrize("angle", [33.0, -127.0])
def test_rotation_agrees_with_torchvision(angle):
    g = torch.Generator().manual_seed(0)
    img = torch.nn.functional.interpolate(torch.rand(1, 3, 8, 8, generator=g), size=64, mode="bilinear")
    ours = rotate(img, torch.tensor([angle]), "bilinear")
    ref = TF.rotate(img, angle, interpolation=TF.InterpolationMode.BILINEAR)
    inner = (slice(None), slice(None), slice(16, 48), slice(16, 48))  # away from the filled corners
    assert (ours[inner] - ref[inner]).abs().mean() < 0.01


def test_rotated_in_corners_are_black_as_torchvisions():
    """The reference rotates PIL images before normalising: corners are 0, not the ImageNet mean."""
    white = torch.ones(1, 3, 32, 32)
    ours = rotate(white, torch.tensor([45.0]), "nearest")
    ref = TF.rotate(white, 45.0)
    assert ours[0, :, 0, 0].tolist() == ref[0, :, 0, 0].tolist() == [0.0, 0.0, 0.0]
    assert ours[0, :, 16, 16].tolist() == [1.0, 1.0, 1.0]
    assert (ours == 0).float().mean().item() == pytest.approx((ref == 0).float().mean().item(), abs=0.02)


def test_each_image_gets_its_own_angle():
    img = torch.rand(1, 3, 12, 12).expand(3, 3, 12, 12)
    out = rotate(img, torch.tensor([0.0, 90.0, 180.0]), "nearest")
    torch.testing.assert_close(out[0], img[0])
    torch.testing.assert_close(out[1], torch.rot90(img[0], 1, (1, 2)))
    torch.testing.assert_close(out[2], torch.rot90(img[0], 2, (1, 2)))


def test_fixed_angles_cover_the_circle():
    torch.testing.assert_close(fixed_angles(4), torch.tensor([0.0, 90.0, 180.0, 270.0]))


def test_jitter_off_is_exactly_the_identity():
    img = torch.rand(4, 3, 8, 8)
    factors = jitter_factors(4, 0.0, 0.0, 0.0, torch.Generator().manual_seed(1))
    assert torch.equal(factors, torch.ones(4, 3))
    assert torch.equal(jitter(img, factors), img)


def test_jitter_factors_stay_in_their_knobs_range_and_change_images():
    factors = jitter_factors(64, 0.5, 0.0, 0.2, torch.Generator().manual_seed(1))
    assert (factors[:, 0] - 1).abs().max() <= 0.5 and (factors[:, 0] - 1).abs().max() > 0.3
    assert torch.equal(factors[:, 1], torch.ones(64)) and (factors[:, 2] - 1).abs().max() <= 0.2
    img = torch.rand(64, 3, 8, 8)
    out = jitter(img, factors)
    assert not torch.allclose(out, img) and out.min() >= 0 and out.max() <= 1
    only_brightness = jitter(img, torch.stack([factors[:, 0], torch.ones(64), torch.ones(64)], 1))
    torch.testing.assert_close(only_brightness, (img * factors[:, 0].view(64, 1, 1, 1)).clamp(0, 1))


@pytest.mark.parametrize("jittered", [False, True])
def test_cached_and_uncached_features_are_the_same_view(squeezenet_weights, jittered):
    """The bank (many images, many views, chunked) equals per-image, per-view embedding, also
    when each view carries its own colour jitter."""
    model = Detector.from_hparams(preset(weights=str(squeezenet_weights), n_blocks=1, hidden=8, chunk=5))
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (3, 3, 96, 96), dtype=torch.uint8, generator=g)
    angles = torch.rand(3, 4, generator=g) * 360 - 180
    factors = jitter_factors(12, 0.4, 0.4, 0.4, g).view(3, 4, 3) if jittered else None
    bank = embed_stack(model, images, angles, device="cpu", batch_images=2, jitter=factors, progress=None, desc="bank")
    for i in range(3):
        for v in range(4):
            f = None if factors is None else factors[i : i + 1, v : v + 1]
            one = model.embed(images[i : i + 1], angles[i : i + 1, v : v + 1], f)[0, 0]
            torch.testing.assert_close(bank[i, v], one, rtol=1e-4, atol=1e-5)
    if jittered:
        plain = embed_stack(
            model, images, angles, device="cpu", batch_images=2, jitter=None, progress=None, desc="bank"
        )
        assert not torch.allclose(bank, plain, atol=1e-3)
