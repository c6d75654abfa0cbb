"""The primitives computed from faster kernels equal torch's own: values, special values and
derivatives."""

import math

import torch
from torch.func import grad, vmap

from actsearch.grammar import parse
from actsearch.grammar.kernels import asinh, sinc


def _wide() -> torch.Tensor:
    mags = torch.logspace(-37, 38.5, 3000)  # normal floats (denormals have absolute, not relative, precision)
    return torch.cat([torch.linspace(-50, 50, 20001), mags, -mags])


def test_asinh_is_as_accurate_as_torchs_own():
    x = _wide()
    ref = torch.asinh(x.double())
    rel = lambda y: ((y.double() - ref).abs() / ref.abs().clamp_min(1e-300)).max().item()  # noqa: E731
    assert rel(asinh(x)) <= max(rel(torch.asinh(x)), 1.2e-7)
    with torch.no_grad():  # the forward-only path (no autograd node) computes the same values
        assert torch.equal(asinh(x), asinh(x.clone().requires_grad_(True)).detach())


def test_asinh_special_values_match_torch():
    special = torch.tensor([0.0, -0.0, math.inf, -math.inf, math.nan, 3.4e38, -3.4e38, 1e-40, 1e18, 2e18, -1e19])
    ours, theirs = asinh(special), torch.asinh(special)
    torch.testing.assert_close(ours, theirs, rtol=1.2e-7, atol=0, equal_nan=True)
    assert torch.equal(torch.signbit(ours), torch.signbit(theirs))  # -0 stays -0


def test_asinh_derivatives_are_autograds_for_torch_asinh():
    u = torch.cat([torch.tensor([0.0, -0.0, 1e-30, 1e30]), torch.randn(200) * 5]).double().requires_grad_(True)
    ours = torch.autograd.grad(asinh(u).sum(), u, create_graph=True)[0]
    ref = u.detach().clone().requires_grad_(True)
    theirs = torch.autograd.grad(torch.asinh(ref).sum(), ref, create_graph=True)[0]
    assert torch.equal(ours, theirs)  # the same rule, also at 0 (1, not the 0 of |u|'s derivative)
    second = torch.autograd.grad(ours.sum(), u)[0]
    torch.testing.assert_close(second, torch.autograd.grad(theirs.sum(), ref)[0])
    assert torch.autograd.gradcheck(asinh, (torch.randn(16, dtype=torch.float64, requires_grad=True),))


def test_asinh_under_vmap_and_in_compiled_candidates():
    h = torch.randn(3, 7)
    slopes = vmap(grad(lambda t: asinh(t).sum()))(h)  # torch.func stacks (mnist1d-cnn) vmap it
    torch.testing.assert_close(slopes, (h * h + 1).rsqrt())
    act = parse("min(x, asinh(x))")
    x = torch.linspace(-4, 4, 101)
    torch.testing.assert_close(act.module()(x), torch.minimum(x, torch.asinh(x)), rtol=1.2e-7, atol=1e-7)


def test_sinc_matches_torchs_sinc_of_x_over_pi():
    x = torch.cat([_wide()[:20001], torch.tensor([0.0, -0.0, 1e-30, -1e-8, math.inf, -math.inf, math.nan])])
    torch.testing.assert_close(sinc(x), torch.sinc(x / math.pi), rtol=0, atol=2.5e-7, equal_nan=True)
    exact = torch.sin(x.double()) / x.double()
    err = lambda y: (y.double() - torch.where(x == 0, 1.0, exact)).abs().nan_to_num().max().item()  # noqa: E731
    assert err(sinc(x)) <= err(torch.sinc(x / math.pi))  # no less accurate than torch's


def test_sinc_derivative_is_torchs():
    u = torch.cat([torch.tensor([0.0, 1e-3, -2.5]), torch.randn(200) * 8]).double().requires_grad_(True)
    ours = torch.autograd.grad(sinc(u).sum(), u)[0]
    ref = u.detach().clone().requires_grad_(True)
    theirs = torch.autograd.grad(torch.sinc(ref / math.pi).sum(), ref)[0]
    torch.testing.assert_close(ours, theirs, rtol=1e-9, atol=1e-12)
    assert ours[0].item() == 0.0  # at 0, as torch's
    assert torch.autograd.gradcheck(sinc, (torch.randn(16, dtype=torch.float64, requires_grad=True),))
