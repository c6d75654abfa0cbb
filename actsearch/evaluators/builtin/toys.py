"""Toy tasks whose whole run is one function: XOR, out-of-range regression, teacher-student."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from actsearch.evaluators.builtin.common import DEPTH, EXAMPLES, WIDTH
from actsearch.evaluators.registry import register_task
from actsearch.limits import POSITIVE, Range


@dataclass
class XorConfig:
    """One neuron y = f(w1·x1 + w2·x2) on XOR (Pinto & Tavares 2024); score = success rate."""

    trials: int = 10  # independent trials per seed (trial seeds seed*1000 + i)
    epochs: int = 300  # full-batch Adam steps on the 4 points
    lr: float = 0.05  # Adam learning rate
    inputs: Literal["pm1", "01"] = "pm1"  # pm1: inputs in {-1, 1}; 01: inputs in {0, 1}
    bias: bool = False  # a bias term (off: w1, w2 and the activation's own constants only)
    checkpoints: int = 4  # reports per seed


@dataclass
class TeacherConfig:
    """Teacher–student filter recovery (Du, Lee & Tian 2017); score = |cos(w, w*)|."""

    input_dim: int = 64  # input length; cut into non-overlapping patches
    patch: int = 8  # filter (patch) width
    train_size: int = 4000  # Laplace-distributed training inputs
    test_size: int = 1000  # held-out inputs for the test error
    steps: int = 400  # Adam steps
    batch_size: int = 128  # inputs per step
    lr: float = 0.01  # Adam learning rate
    checkpoints: int = 4  # reports per seed


@dataclass
class OodRegressionConfig:
    """A small MLP fits synthetic 1-D functions on [-train_range, train_range] and is scored
    outside it (Vitvitskyi et al. 2026); score = mean over targets of 1 / (1 + OOD NMSE)."""

    train_range: float = 2.0  # training inputs x ~ U(-train_range, train_range)
    test_range: float = 4.0  # scored on train_range < |x| <= test_range
    train_size: int = 1024  # training points (fixed, generator seed 0)
    test_size: int = 512  # out-of-range grid points
    width: int = 64  # hidden units per layer
    depth: int = 3  # hidden layers
    steps: int = 1000  # Adam steps
    batch_size: int = 128  # points per step
    lr: float = 3e-3  # Adam learning rate, cosine-decayed to 0
    init: str = "he-relu"  # hidden-layer init: he-relu or default
    checkpoints: int = 4  # reports per seed


def _toy(name: str, config: Any, run: str) -> Any:
    from actsearch.evaluators import regression, toy
    from actsearch.evaluators.task import ToyTask

    return ToyTask(name, config, {"xor": toy.run_xor, "teacher": toy.run_teacher,
                                  "regression": regression.run_regression}[run])


@register_task("xor", description="one neuron on XOR (Pinto & Tavares 2024); score = success rate",
               config=XorConfig, limits={"trials": Range(1, 10_000), "epochs": Range(1, 1_000_000)},
               tiny={"trials": 4, "epochs": 60})
def xor(name: str, config: XorConfig) -> Any:
    return _toy(name, config, "xor")


def check_ood(name: str, cfg: OodRegressionConfig) -> None:
    """The scored range lies outside the training range."""
    from actsearch.evaluators.errors import TaskError
    from actsearch.evaluators.task import check_init

    check_init(name, cfg.init)
    if cfg.test_range <= cfg.train_range:
        raise TaskError(f"task {name}: test_range ({cfg.test_range:g}) must exceed train_range "
                        f"({cfg.train_range:g}): the score is out of the training range")


@register_task("ood-regression",
               description="a small MLP fits 1-D functions, scored outside the training range (Vitvitskyi et al. 2026)",
               config=OodRegressionConfig,
               limits={"train_range": POSITIVE,  # training interval half-width
                       "test_range": POSITIVE,  # scored interval half-width (beyond train_range)
                       "train_size": EXAMPLES, "test_size": EXAMPLES, "width": WIDTH, "depth": DEPTH},
               tiny={"steps": 30, "train_size": 128, "test_size": 64, "width": 16, "depth": 2},
               check=check_ood, cost_a_seed=0.12)
def ood_regression(name: str, config: OodRegressionConfig) -> Any:
    return _toy(name, config, "regression")


def check_teacher(name: str, cfg: TeacherConfig) -> None:
    """The input is a whole number of patches."""
    from actsearch.evaluators.errors import TaskError

    if cfg.input_dim % cfg.patch:
        raise TaskError(f"task {name}: input_dim ({cfg.input_dim}) must be a multiple of patch ({cfg.patch})")


@register_task("teacher", description="teacher-student filter recovery (Du, Lee & Tian 2017); score = |cos(w, w*)|",
               config=TeacherConfig,
               limits={"input_dim": Range(1, 100_000), "patch": Range(1, 100_000), "train_size": EXAMPLES,
                       "test_size": EXAMPLES},
               tiny={"steps": 60, "train_size": 500, "test_size": 200}, check=check_teacher)
def teacher(name: str, config: TeacherConfig) -> Any:
    return _toy(name, config, "teacher")
