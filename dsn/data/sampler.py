"""A shuffling sampler whose order is a pure function of (seed, epoch).

Lightning calls ``set_epoch`` on the training sampler before every epoch, so a run resumed from
a checkpoint at epoch e sees exactly the batches an uninterrupted run sees from epoch e on.
"""

from __future__ import annotations

import torch
from torch.utils.data import Sampler


class EpochShuffleSampler(Sampler[int]):
    def __init__(self, n: int, *, seed: int):
        self.n = n
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())

    def __len__(self) -> int:
        return self.n
