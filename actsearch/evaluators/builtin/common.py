"""What the built-in tasks share: the training loop's settings, the ranges of settings several
tasks have, and small builders.

The training loop's settings (:class:`TrainConfig`) have their ranges in
:data:`actsearch.limits.TRAINING_SETTINGS`; every other range is declared by the task that has the
setting (``@register_task(..., limits=...)``), with the ranges below for the sizes many tasks share.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actsearch.limits import Range

EXAMPLES = Range(1, 10_000_000)  # examples of a data split (train_size, val_size, test_size)
WIDTH = Range(1, 4_096)  # hidden units (channels of a first stage)
DEPTH = Range(1, 64)  # hidden layers (a transformer's blocks)
CHANNELS = Range(1, 1_024)  # channels of a convolution


@dataclass
class TrainConfig:
    """Fields every classification task shares."""

    steps: int = 3000  # optimizer steps (the budget)
    batch_size: int = 128  # examples per step, drawn with a generator seeded by the run seed
    lr: float = 1e-3  # Adam learning rate, cosine-decayed to 0 over `steps`
    weight_decay: float = 0.0  # Adam L2 weight decay
    init: str = "he-relu"  # hidden-layer init: he-relu (He-normal, ReLU gain), he-gain (candidate's gain), default
    head: str = "softmax"  # softmax, or activation: the candidate applied to the logits (Agarap 2018)
    checkpoints: int = 4  # validation reports per seed, for early stopping (ASHA)
    report_subset: int = 1000  # validation examples scored at each checkpoint
    max_weight: float = 1e4  # a parameter larger than this in absolute value counts as diverged
    dnr_samples: int = 1000  # validation examples used for the dead-neuron rate


def mlp(n_in: int) -> Any:
    """The builder of a plain MLP with ``n_in`` inputs and 10 classes (``width`` x ``depth`` of the config)."""

    def build(cfg: Any, act: Any, gain: float | None) -> Any:
        from actsearch.evaluators import networks

        return networks.MLP(n_in, cfg.width, cfg.depth, 10, act, cfg.init, gain)

    return build
