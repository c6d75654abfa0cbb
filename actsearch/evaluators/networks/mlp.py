"""Plain MLPs: the deep MLP of the default search task and the small ones of digits and the
regression task.
"""

from __future__ import annotations

from torch import nn

from actsearch.evaluators.networks.init import ActFactory, init_hidden


class MLP(nn.Sequential):
    """Plain MLP: ``depth`` hidden layers of ``width`` units, each followed by the activation."""

    def __init__(self, n_in: int, width: int, depth: int, n_out: int, act: ActFactory,
                 init: str = "he-relu", gain: float | None = None) -> None:
        layers: list[nn.Module] = []
        for i in range(depth):
            lin = nn.Linear(n_in if i == 0 else width, width)
            init_hidden(lin, init, gain)
            layers += [lin, act()]
        layers.append(nn.Linear(width if depth else n_in, n_out))
        super().__init__(*layers)
