"""``swap_activations``: activation modules replaced anywhere in a nested model."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import actsearch
from actsearch.evaluators.swap import SwapError
from actsearch.results import export


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.act = nn.ReLU()  # an attribute

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


class Net(nn.Module):
    """Activations as attributes, in Sequential, ModuleList, ModuleDict, and one shared instance."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), Block())
        self.blocks = nn.ModuleList([Block(), nn.Sequential(Block(), nn.GELU())])
        shared = nn.ReLU()
        self.heads = nn.ModuleDict({"a": nn.Sequential(nn.Flatten(), nn.Linear(3 * 16, 8), shared),
                                    "b": shared})
        self.out = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.out(self.heads["b"](self.heads["a"](x)))


def _count(model: nn.Module, kind: type) -> int:
    return sum(isinstance(m, kind) for m in model.modules())


def test_swaps_everywhere_with_fresh_instances():
    torch.manual_seed(0)
    net = Net()
    relus = sum(1 for parent in net.modules() for child in parent._modules.values() if isinstance(child, nn.ReLU))
    assert relus == 6  # the shared ReLU sits in two places
    n = actsearch.swap_activations(net, "x * sigmoid(beta * x)", kinds=(nn.ReLU,))
    assert n == 6 and _count(net, nn.ReLU) == 0 and _count(net, nn.GELU) == 1
    betas = [p for name, p in net.named_parameters() if name.endswith("beta")]
    assert len(betas) == 6 and len({id(b) for b in betas}) == 6  # one constant per place
    assert net.heads["b"] is not net.heads["a"][2]
    out = net(torch.randn(2, 1, 4, 4))
    out.sum().backward()
    assert out.shape == (2, 2) and all(b.grad is not None for b in betas)


def test_several_kinds_and_the_same_function():
    torch.manual_seed(0)
    net = Net()
    x = torch.randn(2, 1, 4, 4)
    before = net(x)
    assert actsearch.swap_activations(net, "max(x, 0)", kinds=(nn.ReLU,)) == 6
    assert torch.allclose(net(x), before)  # the same function: the same outputs
    assert actsearch.swap_activations(net, "tanh", kinds=(nn.GELU, nn.Tanh)) == 1


@pytest.mark.parametrize("make", ["library", "activation", "class", "instance", "exported"])
def test_accepted_forms(make, tmp_path):
    torch.manual_seed(0)
    if make == "library":
        act = "swish"
    elif make == "activation":
        act = actsearch.parse("x * sigmoid(beta * x)", beta=1.5)
    elif make == "class":
        act = nn.SiLU
    elif make == "instance":
        act = nn.LeakyReLU(0.2)
    else:
        path = export.write("x * sigmoid(beta * x)", {"beta": 1.5}, tmp_path / "my_act.py", name="MyAct")
        act = export.load_module_class(path, "MyAct")
    net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Sequential(nn.Linear(4, 4), nn.ReLU()))
    assert actsearch.swap_activations(net, act) == 2
    assert net[1] is not net[2][1] and type(net[1]) is type(net[2][1]) and not isinstance(net[1], nn.ReLU)
    x = torch.linspace(-3, 3, 4).expand(3, 4)
    assert torch.allclose(net[1](x), net[2][1](x))


def test_functional_calls_cannot_be_swapped():
    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(3, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.relu(self.fc(x))

    with pytest.raises(SwapError, match="found no ReLU module in Functional; functional calls such as F.relu") as info:
        actsearch.swap_activations(Functional(), "swish")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("args", "words"), [
    (("not a model", "swish"), "needs an nn.Module"),
    ((nn.Sequential(nn.ReLU()), 3.5), "cannot swap in a float"),
    ((nn.Sequential(nn.ReLU()), int), "not an nn.Module"),
    ((nn.Sequential(nn.ReLU()), "swish", (int,)), "kinds must be nn.Module classes"),
])
def test_bad_arguments(args, words):
    with pytest.raises(SwapError, match=words):
        actsearch.swap_activations(*args)
