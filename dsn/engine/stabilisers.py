"""Stabilisers of the last-epoch score (off by default; the paper presets train as the reference,
at a constant learning rate with raw weights): an exponential moving average of the weights,
used for every test-set score and stored in the checkpoints.

The reference's test-set curve swings by points between neighbouring meta-epochs, so a sweep
whose objective is the last epoch ranks noise; averaging the weights over the last few hundred
steps is the usual cure (the learning-rate decay is the other: ``model.lr_schedule=cosine``).
"""

from __future__ import annotations

from lightning.pytorch.callbacks import WeightAveraging
from torch.optim.swa_utils import get_ema_multi_avg_fn


class FlowEMA(WeightAveraging):
    """EMA of the module's weights after every optimiser step (``decay`` per step: 0.995 averages
    over about 200 steps). Validation and test see the average; checkpoints written during the
    fit hold the average as their weights and the raw ones beside it (a resume continues both).

    After the fit the average replaces the raw weights for good, so that what is stored after
    training (the decision threshold, set on held-out images) is saved with the weights it was
    set on."""

    def __init__(self, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"callbacks.ema.decay must be in (0, 1), got {decay}")
        # parameters only: buffers (the fixed permutations, masks, the threshold) are not averaged
        super().__init__(multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=False)

    def on_train_end(self, trainer, pl_module) -> None:
        super().on_train_end(trainer, pl_module)
        self._average_model = None  # later saves store the module as it is: the average, with its threshold
