"""The transfer tasks (mnist1d-cnn, mnist1d-resnet-ln, mnist1d-vit): they train end to end on a small
budget, are deterministic per seed on the CPU, and their networks use the candidate where stated."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from actsearch.evaluators import evaluate, get_task, networks
from actsearch.evaluators.tasks import default_config

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

TRANSFER = ("mnist1d-cnn", "mnist1d-resnet-ln", "mnist1d-vit")


@pytest.mark.parametrize("task", TRANSFER)
def test_trains_end_to_end_and_is_deterministic_per_seed(task):
    first = evaluate("x * sigmoid(beta * x)", task, seeds=(0, 1), steps=12, batched=False)  # seed by seed
    again = evaluate("x * sigmoid(beta * x)", task, seeds=(0,), steps=12)
    assert first.status == "ok" and [r.status for r in first.runs] == ["ok", "ok"]
    assert first.runs[0].score == again.runs[0].score  # same seed, same score
    assert first.runs[0].metrics["val_loss"] == again.runs[0].metrics["val_loss"]
    assert 0.0 <= first.metrics["dnr"] <= 1.0 and "pd" in first.metrics
    assert 0.0 < first.score < 1.0


def test_defaults_are_the_calibrated_budgets():
    assert default_config("mnist1d-cnn").steps == 1500
    assert default_config("mnist1d-resnet-ln").steps == 400 and default_config("mnist1d-resnet-ln").norm == "layer"
    assert default_config("mnist1d-vit").steps == 800


def _count(model: nn.Module, kind: type) -> int:
    return sum(isinstance(m, kind) for m in model.modules())


def test_the_candidate_sits_where_each_architecture_says():
    class Marker(nn.Identity):
        pass

    cnn = networks.ConvNet1d(Marker, channels=8, layers=3)
    assert _count(cnn, Marker) == 3 and _count(cnn, nn.BatchNorm1d) + _count(cnn, nn.GroupNorm) == 0
    assert cnn(torch.randn(5, 40)).shape == (5, 10)
    res = networks.LNResNet1d(Marker, channels=8, blocks=3)
    assert _count(res, Marker) == 7 and _count(res, nn.GroupNorm) == 7 and _count(res, nn.BatchNorm1d) == 0
    assert _count(networks.LNResNet1d(Marker, 8, 2, norm="batch"), nn.BatchNorm1d) == 5
    vit = networks.ViT1d(Marker, depth=2)
    assert _count(vit, Marker) == 2 and _count(vit, nn.LayerNorm) == 5  # 2 per block + the final one
    assert vit(torch.randn(3, 40)).shape == (3, 10)
    # in the ViT the candidate acts on (tokens, hidden) rows: one unit per MLP hidden unit
    seen = []
    block = vit.blocks[0]
    block.act.register_forward_hook(lambda m, i, o: seen.append(i[0].shape))
    vit(torch.randn(3, 40))
    assert seen == [torch.Size([3 * 10, 64])]


def test_bad_architecture_settings_are_one_line_errors():
    from actsearch.errors import UserError

    for task, bad, message in (("mnist1d-vit", {"patch": 3}, "must divide"), ("mnist1d-vit", {"heads": 5}, "must divide"),
                               ("mnist1d-resnet-ln", {"norm": "group"}, "norm must be one of"),
                               ("mnist1d-cnn", {"layers": 0}, "layers must be >= 1"),
                               ("ood-regression", {"test_range": 1.0}, "must exceed train_range")):
        with pytest.raises(UserError, match=message):
            get_task(task, **bad)
