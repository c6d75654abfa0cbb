"""scikit-learn's 8x8 digits on a small MLP: the smoke-test task."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actsearch.evaluators.builtin.common import DEPTH, EXAMPLES, WIDTH, TrainConfig, mlp
from actsearch.evaluators.registry import register_task

SIZE, TEST = 1797, 300  # scikit-learn's digits: examples, and those held out as the test set


@dataclass
class DigitsConfig(TrainConfig):
    """scikit-learn's 8x8 digits on a small MLP: a smoke test (every activation scores 98-99 %)."""

    steps: int = 600  # optimizer steps
    batch_size: int = 64  # examples per step
    val_size: int = 300  # validation examples (scored); 300 more are the test set
    width: int = 64  # hidden units per layer
    depth: int = 2  # hidden layers


def split(cfg: Any) -> Any:
    """The digits as flat 64-pixel rows in [0, 1] (shuffled with seed 0; the last 300 are the test set)."""
    from actsearch.evaluators import data

    return data.digits(cfg.val_size, TEST)


def check(name: str, cfg: Any) -> None:
    """The validation set leaves a training set."""
    from actsearch.evaluators.errors import TaskError

    if cfg.val_size > SIZE - TEST - 1:
        raise TaskError(f"task {name}: val_size must be at most {SIZE - TEST - 1} "
                        f"(digits has {SIZE} examples, {TEST} of them test)")


@register_task("digits", description="scikit-learn's 8x8 digits on a small MLP: a smoke test", config=DigitsConfig,
               limits={"val_size": EXAMPLES, "width": WIDTH, "depth": DEPTH},
               tiny={"steps": 60}, check=check, input_shape=(64,), examples=SIZE)
def digits(name: str, config: DigitsConfig) -> Any:
    from actsearch.evaluators.classification import ClassificationTask

    return ClassificationTask(name, config, split, mlp(64))
