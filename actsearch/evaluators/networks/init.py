"""How hidden layers are initialised: He-normal with ReLU's gain (``he-relu``), with the
candidate's own gain (``he-gain``, the generalised He init), or torch's default; and the type of an
activation *factory* every network takes (a zero-argument callable returning a fresh module, so
every place an activation is applied gets its own instance and a learnable β is one scalar per
layer).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

ActFactory = Callable[[], nn.Module]


INITS = ("he-relu", "he-gain", "default")


def init_hidden(layer: nn.Module, init: str, gain: float | None) -> None:
    """He-normal weights (std = gain / sqrt(fan_in)) and zero bias, unless ``init == "default"``."""
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; expected one of {', '.join(INITS)}")
    if init == "default":
        return
    g = math.sqrt(2.0) if init == "he-relu" or gain is None or not math.isfinite(gain) else gain
    fan_in = nn.init._calculate_fan_in_and_fan_out(layer.weight)[0]
    with torch.no_grad():
        layer.weight.normal_(0.0, g / math.sqrt(fan_in))
        if layer.bias is not None:
            layer.bias.zero_()
