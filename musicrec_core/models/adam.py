"""Adam as the trained models here use it: fused into one pass per parameter where torch has a
kernel for it.

On the CPU torch's default Adam is a chain of about ten separate operations per parameter, each
a pass over the whole tensor. The catalogue-sized tables (the hybrid's item, history and user
ids; ELSA's tracks x rank factors) make that the largest part of a step at scale, while the
fused kernel makes the same update in one pass (bench/training_speed.py).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

FUSED_DEVICES = ("cpu", "cuda")  # where torch's Adam has a fused kernel


def adam(
    parameters: Iterable[torch.nn.Parameter],
    device: torch.device,
    learning_rate: float,
    weight_decay: float = 0.0,
) -> torch.optim.Adam:
    """torch's Adam over ``parameters`` (all on ``device``), fused where it can be."""
    return torch.optim.Adam(
        parameters,
        lr=learning_rate,
        weight_decay=weight_decay,
        fused=device.type in FUSED_DEVICES,
    )
