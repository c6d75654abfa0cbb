"""A candidate as a model library's activation layer: timm's ``act_layer`` and torchvision's
``activation_layer`` conventions, written here in a few lines of torch (no timm or torchvision).

timm calls ``act_layer()``, ``act_layer(inplace=True)``, ``act_layer(True)`` (VGG) and
``create_act_layer(act_layer, inplace=...)`` (which retries without the flag on a TypeError);
torchvision's ``Conv2dNormActivation`` / ``MLP`` call ``activation_layer(**params)`` with
``params = {"inplace": inplace}`` or ``{}``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

import actsearch
from actsearch.cli import app
from actsearch.evaluators.candidate import as_candidate
from actsearch.grammar.activation import LayerFactory
from actsearch.grammar.compile import ActivationModule
from actsearch.results import export

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "timm_style_task.py"
TEXT = "x * sigmoid(beta * x)"


def create_act_layer(layer, inplace=None, **kwargs):  # noqa: ANN001, ANN201 - timm's resolver convention
    if inplace is None:
        return layer(**kwargs)
    try:
        return layer(inplace=inplace, **kwargs)
    except TypeError:  # a layer without the flag
        return layer(**kwargs)


class TimmStyleNet(nn.Module):
    """Every way timm calls its ``act_layer``: 5 activations."""

    def __init__(self, act_layer=nn.ReLU) -> None:  # noqa: ANN001
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.acts = nn.ModuleList([act_layer(inplace=True), act_layer(), act_layer(True),
                                   create_act_layer(act_layer, inplace=True), create_act_layer(act_layer)])
        self.head = nn.Linear(4 * 8 * 8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        for act in self.acts:
            x = act(x)
        return self.head(x.flatten(1))


def conv_norm_act(c_in: int, c_out: int, activation_layer=nn.ReLU, inplace: bool | None = True) -> nn.Sequential:  # noqa: ANN001
    params = {} if inplace is None else {"inplace": inplace}  # torchvision's builders' convention
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                         activation_layer(**params))


class TorchvisionStyleNet(nn.Module):
    """``activation_layer=`` passed down to Conv2dNormActivation- and MLP-style builders: 3 activations."""

    def __init__(self, activation_layer=nn.ReLU) -> None:  # noqa: ANN001
        super().__init__()
        self.features = nn.Sequential(conv_norm_act(1, 4, activation_layer), conv_norm_act(4, 4, activation_layer,
                                                                                           inplace=None))
        self.mlp = nn.Sequential(nn.Flatten(), nn.Linear(4 * 8 * 8, 16), activation_layer(), nn.Linear(16, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.features(x))


def _data(n: int = 48) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return torch.randn(n, 1, 8, 8, generator=gen), torch.randint(0, 10, (n,), generator=gen)


def _forward_backward(net: nn.Module) -> None:
    x, y = _data(8)
    loss = nn.functional.cross_entropy(net(x), y)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters() if p.requires_grad)


@pytest.mark.parametrize(("build", "count"), [(lambda act: TimmStyleNet(act_layer=act), 5),
                                              (lambda act: TorchvisionStyleNet(activation_layer=act), 3)])
def test_the_act_a_task_hands_out_is_a_model_library_act_layer(build, count):
    task = actsearch.ModelTask(model=build, train=_data(), val=_data(16), name="library-style", steps=3,
                               batch_size=16)
    model, acts = task.build(as_candidate(TEXT), None)
    assert len(acts) == count and all(isinstance(a, ActivationModule) for a in acts)
    assert len({id(a) for a in acts}) == count  # a fresh module (its own beta) per place
    _forward_backward(model)
    res = actsearch.evaluate(TEXT, task, seeds=(0,))
    assert res.status == "ok", res.runs[0].error


def test_a_full_control_task_may_call_act_as_a_library_does():
    @actsearch.task("library-style-loop", steps=2)
    def train(act, seed, report, settings):  # noqa: ANN001, ANN202
        net = TimmStyleNet(act_layer=act)
        _forward_backward(net)
        return 0.5

    res = actsearch.evaluate("swish", train, seeds=(0,))
    assert res.status == "ok", res.runs[0].error


def test_the_prescreen_probe_builds_a_library_style_network():
    from actsearch.search.screening.features import probe_for, propagation_features, proxy_features

    task = actsearch.ModelTask(model=lambda act: TimmStyleNet(act_layer=act), train=_data(), val=_data(16),
                               name="library-style", steps=3, batch_size=16)
    act = actsearch.parse(TEXT)
    probe = probe_for(task, batch=16)
    assert all(v == v for v in propagation_features(act.module, probe).values())
    assert set(proxy_features(act.module, probe, steps=2)) == {"proxy_loss", "proxy_acc"}


def test_activation_module_is_an_act_layer():
    act = actsearch.parse(TEXT, beta=1.5)
    assert isinstance(act.module(inplace=True), ActivationModule)
    _forward_backward(TorchvisionStyleNet(activation_layer=act.module))
    with pytest.raises(actsearch.UserError, match="per_channel"):  # a bool is not a channel count
        act.module(per_channel=True)


def test_the_factory_refuses_what_is_not_an_in_place_flag():
    factory = LayerFactory(nn.Tanh)
    assert isinstance(factory(), nn.Tanh) and isinstance(factory(inplace=False), nn.Tanh)
    assert isinstance(factory(True), nn.Tanh)  # timm's VGG: act_layer(True)
    for args, kwargs in (((64,), {}), ((), {"num_parameters": 4}), ((True, True), {})):
        with pytest.raises(TypeError, match="inplace"):
            factory(*args, **kwargs)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit.script is deprecated, still works
def test_the_exported_class_is_an_act_layer(tmp_path):
    path = export.write(TEXT, {"beta": 1.5}, tmp_path / "my_act.py", name="MyAct")
    cls = export.load_module_class(path, "MyAct")  # imported from the written file
    for net in (TimmStyleNet(act_layer=cls), TorchvisionStyleNet(activation_layer=cls)):
        _forward_backward(net)
    assert cls(True).per_channel == 0 and cls(inplace=True).per_channel == 0 and cls(4).per_channel == 4
    x = torch.randn(3, 4)
    scripted = torch.jit.script(cls(inplace=True))
    assert torch.equal(scripted(x), cls()(x))
    with pytest.raises(TypeError):
        cls(negative_slope=0.1)


def test_the_example_tasks_run_from_the_cli():
    for name in ("task", "torchvision_task"):
        out = CliRunner().invoke(app, ["evaluate", TEXT, "--task", f"{EXAMPLE}:{name}", "--seeds", "1",
                                       "--set", "steps=4", "--json"])
        assert out.exit_code == 0, out.output
        data = json.loads(out.stdout)
        assert data["status"] == "ok", data
