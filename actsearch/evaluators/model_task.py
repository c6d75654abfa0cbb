"""``ModelTask``: the user's network and data in actsearch's own training loop.

::

    task = actsearch.ModelTask(model=lambda act: MyNet(act), train=(x, y), val=(xv, yv),
                               test=(xt, yt), steps=500, batch_size=64, lr=1e-3)

``model(act)`` builds the network, calling ``act()`` wherever an activation goes (a fresh module
each call, so learnable constants are per layer). Each split is an ``(inputs, labels)`` pair of
tensors (or arrays) or a torch ``Dataset`` of such pairs; ``test`` is optional (the validation
split then stands in for it). Training is :func:`~actsearch.evaluators.training.loop.train_classifier`
(cross-entropy and accuracy unless ``loss=`` / ``metric=`` are given), so a ``ModelTask`` has
everything the built-in tasks have: failure statuses, dead-neuron rate, PD across seeds, the values
the candidate's constants learned (its modules found in the network by type after training),
``init`` (``default`` keeps the user's initialisation; ``he-relu`` / ``he-gain`` re-initialise
every Linear/Conv layer but the last), checkpoints for ASHA, and ``device`` (``auto``: the
trial's GPU when it has one). Its settings are a :class:`ModelConfig`, overridable with
``--set NAME=VALUE``; its probe is its own network and training data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from actsearch.evaluators import data, networks
from actsearch.evaluators.builtin.common import TrainConfig
from actsearch.evaluators.classification import ClassificationTask
from actsearch.evaluators.metrics import LossFn, MetricFn
from actsearch.evaluators.settings import apply_overrides
from actsearch.evaluators.task import TaskError, config_device
from actsearch.limits import TRAINING_SETTINGS

_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


@dataclass
class ModelConfig(TrainConfig):
    """Settings of a user's ``ModelTask`` (the training loop's, as in every classification task)."""

    steps: int = 500  # optimizer steps
    batch_size: int = 64  # examples per step
    init: str = "default"  # default: the model's own init; he-relu / he-gain: hidden Linear/Conv layers
    device: str = "auto"  # auto (the trial's GPU when there is one), cpu or cuda


def _tensors(split: Any, which: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(inputs, labels)`` of one split, from a pair or a Dataset of pairs."""
    if isinstance(split, torch.utils.data.Dataset) and not isinstance(split, (tuple, list)):
        try:
            pairs = [split[i] for i in range(len(split))]
            xs, ys = zip(*pairs, strict=True)
            x = torch.stack([torch.as_tensor(v) for v in xs])
            y = torch.stack([torch.as_tensor(v) for v in ys])
        except Exception as err:
            raise TaskError(f"ModelTask: {which} must be a Dataset of (input, label) pairs: {err}") from None
    elif isinstance(split, (tuple, list)) and len(split) == 2:
        try:
            x, y = (torch.as_tensor(v) for v in split)
        except Exception as err:
            raise TaskError(f"ModelTask: {which} must be two tensors (inputs, labels): {err}") from None
    else:
        raise TaskError(f"ModelTask: {which} must be an (inputs, labels) pair or a torch Dataset, "
                        f"got {type(split).__name__}")
    if len(x) != len(y) or len(x) == 0:
        raise TaskError(f"ModelTask: {which} has {len(x)} inputs and {len(y)} labels; expected the same number, > 0")
    x = x.float() if x.is_floating_point() else x  # integer inputs (token ids) stay integers
    return x, (y.long() if not y.is_floating_point() else y.float())


def _split(train: Any, val: Any, test: Any) -> data.Split:
    xt, yt = _tensors(train, "train")
    xv, yv = _tensors(val, "val")
    xs, ys = _tensors(test, "test") if test is not None else (xv, yv)
    classes = int(max(yt.max(), yv.max())) + 1 if not yt.is_floating_point() else 0
    return data.Split(xt, yt, xv, yv, xs, ys, classes)


class ModelTask(ClassificationTask):
    """A user's network builder and data splits, trained by actsearch's loop."""

    def __init__(self, model: Callable[[networks.ActFactory], nn.Module], train: Any, val: Any, test: Any = None, *,
                 name: str = "model", loss: LossFn | None = None, metric: MetricFn | None = None,
                 **settings: Any) -> None:
        if not callable(model):
            raise TaskError(f"ModelTask: model must be a callable model(act) -> nn.Module, got {type(model).__name__}")
        config = apply_overrides(name, ModelConfig, settings, limits=TRAINING_SETTINGS)
        split = _split(train, val, test)
        self._user_model = model
        super().__init__(name, config, lambda cfg: split, self._make, device=config_device, loss=loss, metric=metric)
        self.limits = TRAINING_SETTINGS  # its settings are the training loop's (and device)

    def _make(self, cfg: ModelConfig, act: networks.ActFactory, gain: float | None) -> nn.Module:
        net = self._user_model(act)
        if not isinstance(net, nn.Module):
            raise TaskError(f"task {self.name}: model(act) returned a {type(net).__name__}, not an nn.Module")
        if cfg.init != "default":
            layers = [m for m in net.modules() if isinstance(m, _LAYERS)]
            for layer in layers[:-1]:  # the output layer keeps its own init, as in the built-in networks
                networks.init_hidden(layer, cfg.init, gain)
        return net

    def check(self) -> None:
        """Build the network once and run it on two training examples: a wrong model or data shape
        is one line before anything starts, not a failure of every candidate."""
        config_device(self.config)  # a GPU asked for where there is none
        split = self._load(self.config)
        try:
            with torch.no_grad():
                self._make(self.config, nn.ReLU, None)(split.x_train[:2])
        except TaskError:
            raise
        except Exception as err:
            msg = " ".join(f"{type(err).__name__}: {err}".split())[:300]
            raise TaskError(f"task {self.name}: model(act) fails on two training examples with nn.ReLU: {msg}") from None
