"""``swap_activations`` on what a module swap misses: functional calls left in forward, a library's own
activation classes, one class as ``kinds``, and a module called at several sites."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import actsearch
from actsearch.evaluators.swap import PerCallSite, SwapError, SwapUnreachedError, SwapWarning

SWISH = "x * sigmoid(beta * x)"


class ResBlock(nn.Module):
    """An nn.ReLU module beside functional relus (two F.relu, one torch.relu, one x.relu())."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Linear(4, 4)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.conv(x))
        y = self.act(y) + F.relu(x) + torch.relu(y)
        return y.relu() * torch.sigmoid(x)  # the sigmoid is a gate, not a ReLU: not reported


class Branchy(nn.Module):
    """Does not trace (control flow on a tensor's value); has a batch norm whose statistics must not move."""

    def __init__(self) -> None:
        super().__init__()
        self.fc, self.bn, self.act = nn.Linear(4, 4), nn.BatchNorm1d(4), nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.bn(self.fc(x)))
        if x.sum() > -1:
            x = F.relu(x - 1)
        return x


class BasicBlock(nn.Module):
    """torchvision's BasicBlock shape: one self.relu called twice."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.conv2 = nn.Linear(4, 4), nn.Linear(4, 4)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.conv1(x))
        return self.relu(self.conv2(out) + x)


class BranchyBasicBlock(BasicBlock):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.conv1(x))
        if out.sum() > -1:
            out = self.conv2(out)
        return self.relu(out + x)


class GELU(nn.Module):
    """A library's own activation class (timm's layers.GELU): not an nn.GELU."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(x)


class ConvNeXtLike(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*[nn.Sequential(nn.Linear(4, 8), GELU(), nn.Linear(8, 4)) for _ in range(2)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


def _no_warnings(call):
    with warnings.catch_warnings():
        warnings.simplefilter("error", SwapWarning)
        return call()


def test_functional_calls_beside_modules_warn_and_strict_refuses():
    torch.manual_seed(0)
    net = nn.Sequential(ResBlock(), nn.Linear(4, 2))
    with pytest.raises(SwapUnreachedError, match="forward of ResBlock calls torch.nn.functional.relu") as info:
        actsearch.swap_activations(net, SWISH, strict=True)
    assert "\n" not in str(info.value) and isinstance(net[0].act, nn.ReLU)  # refused: nothing changed
    with pytest.warns(SwapWarning) as record:
        assert actsearch.swap_activations(net, SWISH) == 1
    (message,) = [str(w.message) for w in record]
    assert message == ("forward of ResBlock calls torch.nn.functional.relu (2 sites), forward of ResBlock calls "
                       "torch.relu (1 site), forward of ResBlock calls Tensor.relu (1 site): not swapped "
                       "(functional calls are code, not modules)")
    assert not isinstance(net[0].act, nn.ReLU)
    # only modules: nothing to say
    assert _no_warnings(lambda: actsearch.swap_activations(nn.Sequential(nn.Linear(2, 2), nn.ReLU()), SWISH)) == 1


def test_a_forward_that_does_not_trace_is_read_with_an_example():
    torch.manual_seed(0)
    with pytest.warns(SwapWarning, match=r"could not check forward of Branchy for functional activations "
                                         r"\(torch.fx cannot trace it: .*pass example="):
        actsearch.swap_activations(Branchy(), SWISH)
    with pytest.raises(SwapUnreachedError, match="strict=True needs forward of Branchy read"):
        actsearch.swap_activations(Branchy(), SWISH, strict=True)
    net = Branchy().train()
    stats = net.bn.running_mean.clone()
    with pytest.warns(SwapWarning, match=r"^forward of Branchy calls torch.nn.functional.relu \(1 site\): not"):
        assert actsearch.swap_activations(net, SWISH, example=torch.randn(3, 4)) == 1
    assert net.training and net.bn.training and torch.equal(net.bn.running_mean, stats)
    with pytest.raises(SwapUnreachedError, match="forward of Branchy calls torch.nn.functional.relu"):
        actsearch.swap_activations(Branchy(), SWISH, strict=True, example=torch.randn(3, 4))


def test_nothing_to_swap_lists_the_activation_like_modules():
    with pytest.raises(SwapError, match=r"found no GELU module in ConvNeXtLike; its activation-like modules are "
                                        rf"GELU from {__name__} \(2\): pass those classes, e.g. kinds=\(GELU,\)$"):
        actsearch.swap_activations(ConvNeXtLike(), SWISH, kinds=nn.GELU)
    with pytest.raises(SwapError, match=r"modules are GELU from .* \(2\), Tanh from torch.nn.modules.activation \(1\)"):
        actsearch.swap_activations(nn.Sequential(ConvNeXtLike(), nn.Tanh()), SWISH)
    net = ConvNeXtLike()
    assert _no_warnings(lambda: actsearch.swap_activations(net, SWISH, kinds=GELU)) == 2  # its F.gelu is inside
    assert not any(isinstance(m, GELU) for m in net.modules())


def test_kinds_takes_one_class_a_list_and_refuses_what_is_not_a_class():
    for kinds in (nn.ReLU, [nn.ReLU], {nn.ReLU}):
        net = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2), nn.ReLU())
        assert actsearch.swap_activations(net, "tanh", kinds=kinds) == 2
    for kinds, words in ((nn.ReLU(), "got an instance of ReLU"), ("relu", "got a str"), ((), "got none"),
                         ((nn.ReLU, int), "got a type")):
        with pytest.raises(SwapError, match=rf"^kinds must be nn.Module classes, e.g. \(nn.ReLU, nn.GELU\); {words}$"):
            actsearch.swap_activations(nn.Sequential(nn.ReLU()), "tanh", kinds=kinds)


def _betas(module: nn.Module) -> list[nn.Parameter]:
    return [p for name, p in module.named_parameters() if name.endswith("beta")]


def test_a_module_called_at_two_sites_shares_one_instance_unless_per_call_site():
    torch.manual_seed(0)
    net = nn.Sequential(BasicBlock(), BasicBlock())
    with pytest.warns(SwapWarning, match=r"^2 modules are called at several sites in forward: 0.relu \(2 sites\), "
                                         r"1.relu \(2 sites\); .*share one instance.*per_call_site=True"):
        assert actsearch.swap_activations(copy.deepcopy(net), SWISH) == 2
    assert _no_warnings(lambda: actsearch.swap_activations(copy.deepcopy(net), "tanh")) == 2  # nothing to share

    x = torch.randn(5, 4)
    same = copy.deepcopy(net)
    assert _no_warnings(lambda: actsearch.swap_activations(same, "max(x, 0)", per_call_site=True)) == 4
    assert torch.allclose(same(x), net(x))  # the same function, each call routed to an instance
    assert _no_warnings(lambda: actsearch.swap_activations(net, SWISH, per_call_site=True)) == 4
    assert isinstance(net[0].relu, PerCallSite) and len(net[0].relu.sites) == 2
    betas = _betas(net)
    assert len(betas) == 4 and len({id(b) for b in betas}) == 4
    used = []
    for site in net[0].relu.sites:
        site.register_forward_hook(lambda module, args, out: used.append(module))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    net(x).square().mean().backward()
    assert used == list(net[0].relu.sites)  # call order: first call, first instance
    assert all(b.grad is not None for b in betas) and not torch.equal(betas[0].grad, betas[1].grad)
    opt.step()
    assert not torch.equal(betas[0], betas[1])  # the two sites learn apart
    net(x)
    assert used == list(net[0].relu.sites) * 2  # a new pass starts again at the first site
    twin = copy.deepcopy(net)
    assert torch.equal(twin(x), net(x)) and twin[0].relu.calls == 2 and twin[0].relu is not net[0].relu
    (hook,) = twin[0]._forward_pre_hooks.values()
    assert hook.__self__ is twin[0].relu  # a copy restarts its own sites


def test_per_call_site_on_a_forward_that_does_not_trace():
    with pytest.raises(SwapUnreachedError, match="per_call_site=True needs forward of BranchyBasicBlock read"):
        actsearch.swap_activations(BranchyBasicBlock(), SWISH, per_call_site=True)
    net = BranchyBasicBlock()
    assert actsearch.swap_activations(net, SWISH, per_call_site=True, example=torch.randn(2, 4)) == 2
    assert isinstance(net.relu, PerCallSite) and len({id(b) for b in _betas(net)}) == 2
    net(torch.randn(2, 4)).sum().backward()
    assert all(b.grad is not None for b in _betas(net))
