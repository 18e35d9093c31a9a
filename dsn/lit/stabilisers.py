"""Stabilisers of the last-epoch score (off by default; the paper presets train as the reference,
at a constant learning rate with raw weights): an exponential moving average of the weights,
used for every test-set score and stored in the checkpoints.

The reference's test-set curve swings by points between neighbouring meta-epochs, so a sweep
whose objective is the last epoch ranks noise; averaging the weights over the last few hundred
steps is the usual cure (the learning-rate decay is the other: ``model.optimizer.lr_schedule=cosine``).
"""

from __future__ import annotations

from lightning.pytorch.callbacks import WeightAveraging
from torch.optim.swa_utils import get_ema_multi_avg_fn


class EMAUpdate:
    """One update of the average, as ``AveragedModel`` calls it (averages, current weights, number
    of updates so far): ``torch``'s EMA step with the decay of ``every_n_steps`` steps.

    Why ``warmup``: the first update copies the weights of step 1, and with decay 0.995 that
    near-untrained copy still holds 70% of the average after 72 steps, so a short run's test curve
    (and a short sweep trial's objective) scores the start of training, not its end. The warm-up
    caps the per-step decay at (1 + t) / (10 + t) after t steps (the average over roughly the
    last tenth of the run so far), which reaches ``decay`` after ~1800 steps at 0.995; later
    updates are the plain EMA's."""

    def __init__(self, decay: float, every_n_steps: int, warmup: bool):
        self.decay, self.every_n_steps, self.warmup = decay, every_n_steps, warmup

    def decay_after(self, n_updates: int) -> float:
        """The decay applied at the update that follows ``n_updates`` earlier ones."""
        steps = n_updates * self.every_n_steps
        per_step = min(self.decay, (1 + steps) / (10 + steps)) if self.warmup else self.decay
        return per_step**self.every_n_steps

    def __call__(self, averages, current, n_updates) -> None:
        # reading the count (a tensor on the weights' device) waits for an accelerator at every
        # update: only the warm-up needs it
        n = int(n_updates) if self.warmup else 0
        get_ema_multi_avg_fn(self.decay_after(n))(averages, current, n_updates)


class FlowEMA(WeightAveraging):
    """EMA of the module's weights after every ``every_n_steps``-th optimiser step (``decay`` per
    step: 0.995 averages over about 200 steps; ``warmup``: see ``EMAUpdate``). Validation and
    test see the average; checkpoints written during the fit hold the average as their weights and
    the raw ones beside it (a resume continues both, and the update count the warm-up reads).

    Why ``every_n_steps``: one update reads and writes every parameter (the paper's flow: 172 M).
    An update every N steps with decay ``decay ** N`` keeps the averaging horizon in steps; the
    average then lags the weights by at most N - 1 further steps, small beside its ~200. On a
    2-core CPU the every-step average costs at most ~10% of DifferNet's fit, within run-to-run
    noise (``experiments/results/stabilisers/README.md``); the setting is for hardware and
    flows where the update is a larger share of a step (not measured here).

    After the fit the average replaces the raw weights for good, so that what is stored after
    training (the decision threshold, set on held-out images) is saved with the weights it was
    set on."""

    def __init__(self, decay: float, every_n_steps: int = 1, warmup: bool = False):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"callbacks.ema.decay must be in (0, 1), got {decay}")
        if isinstance(every_n_steps, bool) or not isinstance(every_n_steps, int) or every_n_steps < 1:
            raise ValueError(f"callbacks.ema.every_n_steps must be an integer >= 1, got {every_n_steps!r}")
        if not isinstance(warmup, bool):
            raise ValueError(f"callbacks.ema.warmup must be true or false, got {warmup!r}")
        # parameters only: buffers (the fixed permutations, masks, the threshold) are not averaged
        super().__init__(multi_avg_fn=EMAUpdate(decay, every_n_steps, warmup), use_buffers=False)
        self.every_n_steps = every_n_steps

    def should_update(self, step_idx: int | None = None, epoch_idx: int | None = None) -> bool:
        """After optimiser steps N, 2N, ... (``step_idx`` counts from 0); never at an epoch's end."""
        return step_idx is not None and (step_idx + 1) % self.every_n_steps == 0

    def on_train_end(self, trainer, pl_module) -> None:
        super().on_train_end(trainer, pl_module)
        self._average_model = None  # later saves store the module as it is: the average, with its threshold
