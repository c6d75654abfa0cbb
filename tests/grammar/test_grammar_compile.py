"""Compilation to torch: values and gradients equal torch's own activations, stable forms,
learnable constants (scalar and per channel), trace/compile/pickle."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from actsearch.grammar import parse
from actsearch.grammar.compile import build, prepare
from actsearch.grammar.library import expression

TORCH_OWN = {
    "silu": F.silu,
    "gelu": F.gelu,
    "mish": F.mish,
    "softplus": F.softplus,
    "elu": F.elu,
    "selu": torch.selu,
    "relu": torch.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}
WRITTEN = {  # other texts for the same functions: compiled without torch's kernel unless fast
    "silu": "x / (1 + exp(-x))",
    "gelu": "x * (1 + erf(x * 0.7071067811865476)) / 2",
    "mish": "x * tanh(log(1 + exp(x)))",
    "softplus": "log(1 + exp(x))",
    "elu": "relu(x) + exp(min(x, 0)) - 1",
    "relu": "(x + abs(x)) / 2",
    "tanh": "2 * sigmoid(2 * x) - 1",
}


def _inputs(dtype):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4096, generator=g, dtype=dtype) * 4
    return x[x.abs() > 1e-3]  # kinks at 0 are each implementation's own convention


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("name", list(TORCH_OWN))
def test_values_and_gradients_equal_torch(name, fast, dtype):
    texts = [expression(name)] + ([WRITTEN[name]] if name in WRITTEN else [])
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-12}
    for text in texts:
        x = _inputs(dtype).requires_grad_(True)
        y = parse(text).module(fast=fast).to(dtype)(x)
        (g,) = torch.autograd.grad(y.sum(), x)
        xr = x.detach().clone().requires_grad_(True)
        yr = TORCH_OWN[name](xr)
        (gr,) = torch.autograd.grad(yr.sum(), xr)
        assert y.dtype == dtype
        torch.testing.assert_close(y, yr, **tol)
        torch.testing.assert_close(g, gr, **tol)


def test_library_texts_use_torch_kernels_on_the_fast_path():
    x = _inputs(torch.float32)
    for name, fn in TORCH_OWN.items():
        if name == "mish":  # composed on purpose (faster than torch's CPU kernel)
            continue
        assert torch.equal(parse(expression(name)).module()(x), fn(x)), name


GRADCHECK = [
    "x * sigmoid(beta * x)",
    "max(x, 0) + alpha * min(x, 0)",
    "exp(-beta * (x - sin(x))^2)",
    "beta * x + (1 - beta) * tanh(x)",
    "sinc(x) + asinh(x) * atan(x)",
    "x / (cosh(x) + 1e-6) + erf(gamma * x)",
    "log(abs(x) + 1e-6) * sqrt(abs(x) + 1e-12)",
    "x^3 - softplus(x) + sigmoid(x) * cube",
]


@pytest.mark.parametrize("text", GRADCHECK[:-1])
@pytest.mark.parametrize("fast", [True, False])
def test_gradcheck_inputs_and_parameters(text, fast):
    module = parse(text, alpha=0.25, beta=0.75, gamma=1.25).module(fast=fast).double()
    x = (torch.rand(24, dtype=torch.float64) * 6 - 3).requires_grad_(True)
    params = list(module.parameters())
    names = module.names

    def f(x, *values):
        from actsearch.grammar.compile import ActivationModule  # noqa: F401

        return module._fn(x, (), dict(zip(names, values, strict=True)))

    assert torch.autograd.gradcheck(f, (x, *[p.detach().clone().requires_grad_(True) for p in params]))
    assert torch.autograd.gradgradcheck(f, (x, *[p.detach().clone().requires_grad_(True) for p in params]))


def test_numpy_and_torch_agree_on_random_candidates():
    x = np.linspace(-5, 5, 401) + 0.003
    for text in GRADCHECK[:-1]:
        act = parse(text, alpha=0.25, beta=0.75, gamma=1.25)
        y = act.module(fast=False).double()(torch.tensor(x)).detach().numpy()
        np.testing.assert_allclose(y, act(x), rtol=1e-9, atol=1e-12, err_msg=text)


def test_stable_forms_do_not_overflow():
    x = torch.tensor([-200.0, -100.0, -20.0, 0.0, 20.0, 100.0, 200.0], requires_grad=True)
    for text, ref in [
        ("log(1 + exp(x))", F.softplus),
        ("1 / (1 + exp(-x))", torch.sigmoid),
        ("exp(x) / (1 + exp(x))", torch.sigmoid),
        ("x / (1 + exp(-x))", F.silu),
    ]:
        y = parse(text).module(fast=False)(x)
        (g,) = torch.autograd.grad(y.sum(), x)
        assert torch.isfinite(y).all() and torch.isfinite(g).all(), text
        torch.testing.assert_close(y, ref(x))
    assert prepare(parse("log(1 + exp(2 * x))").tree)[0] == "softplus"
    assert prepare(parse("x * sigmoid(x)").tree)[0] == "silu"
    assert prepare(parse("sqrt(2) * x").tree) == ("mul", ("num", 2**0.5), ("x",))


def test_learnable_constants_are_parameters_and_learn():
    module = parse("x * sigmoid(beta * x) + gamma", beta=1.5, gamma=0.0).module()
    params = dict(module.named_parameters())
    assert set(params) == {"beta", "gamma"} and params["beta"].shape == ()
    assert params["beta"].item() == 1.5
    x = torch.randn(2, 3, 5)
    out = module(x)
    assert out.shape == x.shape
    out.pow(2).sum().backward()
    assert params["beta"].grad is not None and params["gamma"].grad is not None


def test_per_channel_parameters_broadcast_over_dim_1():
    module = parse("max(x, 0) + alpha * min(x, 0)", alpha=0.25).module(per_channel=3)
    assert module.alpha.shape == (3,)
    with torch.no_grad():
        module.alpha.copy_(torch.tensor([0.0, 0.5, 1.0]))
    x = -torch.ones(2, 3, 4, 4)
    y = module(x)
    assert y.shape == x.shape
    assert torch.equal(y[:, 0], torch.zeros(2, 4, 4)) and torch.equal(y[:, 2], -torch.ones(2, 4, 4))
    assert torch.equal(y[:, 1], torch.full((2, 4, 4), -0.5))
    assert module(-torch.ones(5, 3)).shape == (5, 3)


def test_constant_and_parameter_only_expressions_give_tensors():
    x = torch.randn(4, 2)
    assert torch.equal(parse("2").module()(x), torch.full((4, 2), 2.0))
    assert parse("beta", beta=0.5).module()(x).shape == (4, 2)
    assert parse("max(beta, x)").module()(x).shape == (4, 2)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch 2.13 deprecates jit.trace; it still works
def test_jit_trace_pickle_and_deepcopy():
    module = parse("x * sigmoid(beta * x) + max(x, sin(x))", beta=1.2).module()
    x = torch.randn(64)
    traced = torch.jit.trace(module, x)
    torch.testing.assert_close(traced(x), module(x))
    clone = pickle.loads(pickle.dumps(module))
    torch.testing.assert_close(clone(x), module(x))
    torch.testing.assert_close(copy.deepcopy(module)(x), module(x))


def test_build_plain_closures_match_fast_path():
    for text in GRADCHECK[:-1]:
        tree = parse(text).tree
        x = torch.randn(50, dtype=torch.float64)
        p = {"alpha": torch.tensor(0.25, dtype=torch.float64), "beta": torch.tensor(0.75, dtype=torch.float64),
             "gamma": torch.tensor(1.25, dtype=torch.float64)}  # fmt: skip
        torch.testing.assert_close(build(tree, True)(x, (), p), build(tree, False)(x, (), p))


@pytest.mark.slow
def test_torch_compile():
    module = parse("x * sigmoid(beta * x) + max(x, sin(x))", beta=1.2).module()
    compiled = torch.compile(module)
    x = torch.randn(256)
    torch.testing.assert_close(compiled(x), module(x))


def test_activation_pickles_with_its_cached_views():
    act = parse("x * sigmoid(beta * x)", beta=1.5)
    fp, canonical, expr = act.fingerprint, act.canonical, act.expr
    clone = pickle.loads(pickle.dumps(act))
    assert (clone.fingerprint, clone.canonical, clone.expr, clone.params) == (
        fp,
        canonical,
        expr,
        {"beta": 1.5},
    )


def test_the_native_kernel_texts_are_the_library_functions():
    from actsearch.grammar import library
    from actsearch.grammar.compile import KERNEL_TEXTS

    assert {name: library.expression(name) for name in KERNEL_TEXTS} == KERNEL_TEXTS
