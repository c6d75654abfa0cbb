"""What the built-in classification tasks share: the training loop's settings and small builders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
