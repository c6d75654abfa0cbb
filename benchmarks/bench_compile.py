"""Benchmark of the grammar: compiled modules vs hand-written torch, and canonicalisation rates.

1. Forward + backward time on 1M float32 values (CPU, one thread) of compiled swish, gelu, mish
   and two random two-unit candidates b(u1(x), u2(x)), each as a ratio to the same function
   hand-written in torch (the formula, not torch's fused kernel), measured interleaved in this
   run (median of repeats). Goal ≤ 1.2×. gelu and mish are shown twice: the default module
   (which recognises them and runs F.gelu / F.mish) and plain closures (``fast=False``).
2. Over 1,000 random two-unit candidates: parse + fingerprint per second (the search's hot
   path; goal ≥ 1,000/s), canonical text per second, and ``sympy.simplify`` per second on a
   sample as the reference the canonical form replaces.

Times are CPU time of this process (``time.process_time``, one torch thread), so that other
work on a shared machine does not enter the ratios. Prints a table and writes
``benchmarks/results/bench_compile.json``.
Run: ``nice -n 10 python benchmarks/bench_compile.py [--quick]``.
"""

from __future__ import annotations

import math
import platform
import random
import statistics

import harness
import torch
import torch.nn.functional as F

import actsearch
from actsearch.grammar import parse
from actsearch.grammar.primitives import BINARY, UNARY

EPS = 1e-6
# Hand-written torch for every primitive (what a user would type), used as the reference.
HAND_UNARY = {
    "x": lambda u, b: u, "neg": lambda u, b: -u, "abs": lambda u, b: u.abs(), "square": lambda u, b: u * u,
    "cube": lambda u, b: u * u * u, "sqrt": lambda u, b: torch.sqrt(u.abs() + 1e-12), "scale": lambda u, b: b * u,
    "shift": lambda u, b: u + b, "log": lambda u, b: torch.log(u.abs() + EPS), "exp": lambda u, b: torch.exp(u),
    "sin": lambda u, b: torch.sin(u), "cos": lambda u, b: torch.cos(u), "sinh": lambda u, b: torch.sinh(u),
    "cosh": lambda u, b: torch.cosh(u), "tanh": lambda u, b: torch.tanh(u), "asinh": lambda u, b: torch.asinh(u),
    "atan": lambda u, b: torch.atan(u), "sinc": lambda u, b: torch.sinc(u / math.pi),
    "relu": lambda u, b: torch.relu(u), "minzero": lambda u, b: torch.clamp(u, max=0),
    "sigmoid": lambda u, b: torch.sigmoid(u), "softplus": lambda u, b: F.softplus(u),
    "gauss": lambda u, b: torch.exp(-u * u), "erf": lambda u, b: torch.erf(u), "beta": lambda u, b: b * torch.ones_like(u),
}  # fmt: skip
HAND_BINARY = {
    "add": lambda a, c, b: a + c, "sub": lambda a, c, b: a - c, "mul": lambda a, c, b: a * c,
    "div": lambda a, c, b: a / (c + EPS), "max": lambda a, c, b: torch.maximum(a, c),
    "min": lambda a, c, b: torch.minimum(a, c), "sigmul": lambda a, c, b: torch.sigmoid(a) * c,
    "gaussdiff": lambda a, c, b: torch.exp(-b * (a - c) ** 2), "laplacediff": lambda a, c, b: torch.exp(-b * (a - c).abs()),
    "mix": lambda a, c, b: b * a + (1 - b) * c,
}  # fmt: skip


def random_candidate(rng: random.Random) -> tuple[str, str, str]:
    """(binary, unary1, unary2) names, a core unit of the Swish paper."""
    return rng.choice(list(BINARY)), rng.choice(list(UNARY)), rng.choice(list(UNARY))


def candidate_text(b: str, u1: str, u2: str) -> str:
    """Each learnable constant gets its own name: beta1 (u1), beta2 (u2), beta3 (b)."""
    return BINARY[b].apply(
        UNARY[u1].apply("x", param="beta1"), UNARY[u2].apply("x", param="beta2"), param="beta3"
    )


class Hand(torch.nn.Module):
    """A hand-written torch module for b(u1(x), u2(x)) with three scalar parameters."""

    def __init__(self, b: str, u1: str, u2: str) -> None:
        super().__init__()
        self.b, self.u1, self.u2 = HAND_BINARY[b], HAND_UNARY[u1], HAND_UNARY[u2]
        self.p = torch.nn.Parameter(torch.ones(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p1, p2, p3 = self.p
        return self.b(self.u1(x, p1), self.u2(x, p2), p3)


class HandSwish(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.beta = torch.nn.Parameter(torch.tensor(1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.beta * x)


def fwd_bwd_seconds(module: torch.nn.Module, x: torch.Tensor) -> float:
    """One forward + backward pass (input gradient and parameter gradients)."""
    xr = x.detach().requires_grad_(True)
    t0 = harness.clock()
    y = module(xr)
    y.backward(torch.ones_like(y))
    return harness.clock() - t0


def compare(
    name: str, compiled: torch.nn.Module, hand: torch.nn.Module, x: torch.Tensor, repeats: int
) -> dict:
    torch.testing.assert_close(compiled(x), hand(x), rtol=1e-4, atol=1e-5, equal_nan=True)
    for m in (compiled, hand):  # warm up
        fwd_bwd_seconds(m, x)
    a, b = [], []
    for _ in range(repeats):  # interleaved so drift hits both alike
        a.append(fwd_bwd_seconds(compiled, x))
        b.append(fwd_bwd_seconds(hand, x))
    ca, cb = statistics.median(a), statistics.median(b)
    return {"name": name, "compiled_ms": 1e3 * ca, "hand_ms": 1e3 * cb, "ratio": ca / cb}


def rate(fn, items: list, min_seconds: float = 0.0) -> float:
    t0 = harness.clock()
    n = 0
    while True:
        for item in items:
            fn(item)
        n += len(items)
        if harness.clock() - t0 >= min_seconds:
            return n / (harness.clock() - t0)


def main() -> None:
    args = harness.parser(__doc__, "bench_compile", quick=True).parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    repeats, n_cand, n_simplify = (5, 100, 3) if args.quick else (41, 1000, 20)

    x = torch.randn(1_000_000) * 3
    rng = random.Random(7)
    picks = []
    while len(picks) < 2:  # two random candidates that are not trivial
        c = random_candidate(rng)
        if c[1] != c[2] and parse(candidate_text(*c)).trivial() is None:
            picks.append(c)
    gelu_text, mish_text = "0.5 * x * (1 + erf(x / sqrt(2)))", "x * tanh(softplus(x))"
    rows = [
        compare("swish x*sigmoid(beta*x)", actsearch.get("swish"), HandSwish(), x, repeats),
        compare("gelu", parse(gelu_text).module(), _Formula(_gelu), x, repeats),
        compare(
            "gelu, plain closures (fast=False)",
            parse(gelu_text).module(fast=False),
            _Formula(_gelu),
            x,
            repeats,
        ),
        compare("mish", parse(mish_text).module(), _Formula(_mish), x, repeats),
        compare(
            "mish, plain closures (fast=False)",
            parse(mish_text).module(fast=False),
            _Formula(_mish),
            x,
            repeats,
        ),
    ]
    for c in picks:
        text = candidate_text(*c)
        rows.append(compare(text, parse(text).module(), Hand(*c), x, repeats))

    texts = [candidate_text(*random_candidate(rng)) for _ in range(n_cand)]
    fp_rate = rate(lambda t: parse(t).fingerprint, texts)
    canon_rate = rate(lambda t: parse(t).canonical, texts)
    import sympy

    sample = texts[:n_simplify]
    simplify_rate = rate(lambda t: sympy.simplify(parse(t).expr), sample)
    fps = {parse(t).fingerprint for t in texts}
    canon = {
        "candidates": n_cand,
        "distinct_texts": len(set(texts)),
        "distinct_fingerprints": len(fps),
        "parse_fingerprint_per_s": fp_rate,
        "canonical_per_s": canon_rate,
        "simplify_per_s": simplify_rate,
        "simplify_sample": n_simplify,
        "canonical_vs_simplify": canon_rate / simplify_rate,
    }
    result = {
        "benchmark": "bench_compile",
        "values": 1_000_000,
        "dtype": "float32",
        "threads": 1,
        "clock": "process_time",
        "repeats": repeats,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "goal_ratio": 1.2,
        "compile": rows,
        "canonical": canon,
    }
    print(f"{'function':<58} {'compiled ms':>11} {'hand ms':>8} {'ratio':>6}")
    for r in rows:
        print(f"{r['name'][:58]:<58} {r['compiled_ms']:>11.2f} {r['hand_ms']:>8.2f} {r['ratio']:>6.3f}")
    print(f"parse+fingerprint: {fp_rate:,.0f}/s   canonical: {canon_rate:,.0f}/s   "
          f"simplify: {simplify_rate:.2f}/s   ({len(fps)} fingerprints for {len(set(texts))} texts)")  # fmt: skip
    harness.save(args.out, result, args)


def _gelu(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


def _mish(x: torch.Tensor) -> torch.Tensor:
    return x * torch.tanh(F.softplus(x))


class _Formula(torch.nn.Module):
    """A hand-written formula as a module."""

    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


if __name__ == "__main__":
    main()
