"""The DifferNet affine coupling on nflows: an atan soft clamp of the log-scale instead of
nflows' sigmoid scale, and subnets that accept nflows' ``net(x, context)`` call."""

from __future__ import annotations

import torch
from nflows.transforms.coupling import AffineCouplingTransform
from torch import nn

ATAN_SLOPE = 0.636  # ~2/pi: makes clamp * 0.636 * atan(s / clamp) saturate near +-clamp


def soft_clamp(s: torch.Tensor, clamp: float) -> torch.Tensor:
    """The reference's soft clamp of a log-scale: clamp * 0.636 * atan(s / clamp)."""
    return clamp * ATAN_SLOPE * torch.atan(s / clamp)


class Subnet(nn.Sequential):
    """Linear(in, H) -> ReLU -> Linear(H, H) -> ReLU -> Linear(H, H) -> ReLU -> Linear(H, out).

    ``forward`` takes nflows' ``context`` argument and ignores it (the flow is unconditional).
    """

    def __init__(self, in_features: int, out_features: int, hidden: int, n_hidden_layers: int = 3):
        layers: list[nn.Module] = []
        width = in_features
        for _ in range(n_hidden_layers):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, out_features))
        super().__init__(*layers)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        return super().forward(x)


class SoftClampAffineCoupling(AffineCouplingTransform):
    """y = x * exp(soft_clamp(s)) + t on the features where ``mask > 0``; (s, t) from the others.

    log|det J| = sum of the clamped log-scales. Returns ``(outputs, logabsdet)`` as nflows does.
    """

    def __init__(self, mask: torch.Tensor, hidden: int, clamp: float):
        self.clamp = clamp
        super().__init__(mask, lambda n_in, n_out: Subnet(n_in, n_out, hidden))

    def _log_scale_and_shift(self, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # float32 from here on, also under bf16 autocast: the affine map and its log-det stay
        # exact for the subnet's output, so the flow remains exactly invertible
        n = self.num_transform_features
        if params.dtype in (torch.float16, torch.bfloat16):
            params = params.float()
        return soft_clamp(params[:, n:], self.clamp), params[:, :n]

    def _coupling_transform_forward(self, inputs, transform_params):
        log_scale, shift = self._log_scale_and_shift(transform_params)
        return inputs * torch.exp(log_scale) + shift, log_scale.sum(dim=1)

    def _coupling_transform_inverse(self, inputs, transform_params):
        log_scale, shift = self._log_scale_and_shift(transform_params)
        return (inputs - shift) * torch.exp(-log_scale), -log_scale.sum(dim=1)
