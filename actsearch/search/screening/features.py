"""Cheap features of a candidate activation: what the surrogate and the pre-screen see.

Two groups, each computed at several values of the learnable constants (every learnable
constant set to each value of ``PARAM_VALUES`` in turn), so that e.g. ``beta*x + (1-beta)*x^2``,
which is the identity at beta = 1, does not look like ``x``:

(b) scalar properties of f — E[f(z)²], E[f(z)], E[f'(z)²] for z ~ N(0, 1) (deterministic normal
    quantiles), f(0), f'(0), the minimum on [-6, 6], monotonic on [-6, 6] (0/1), the growth
    |f(±10)|/10, the fraction of [-6, 6] where f' = 0, and the fraction of probe points where f
    or f' is not finite;
(c) signal propagation through a child network at initialisation — one forward and one backward
    pass on one fixed batch: log std of the last hidden activation's output, log std of the
    first, log of the first/last weight-gradient-norm ratio, the initial loss, and whether
    anything was non-finite. The network and batch come from a :class:`Probe` (the task's child
    network on a real batch, see :func:`probe_for`).

And once, at the constants' initial values (as a search trains them), a proxy of trainability:

(d) the first ``PROXY_STEPS`` (20) Adam steps of the child network at the task's learning rate and
    batch size, on minibatches of the probe's 1,024 training examples, then the cross-entropy
    and accuracy on those examples (``proxy_loss``, ``proxy_acc``). 20 steps are ~1/150 of the
    default task's 3,000: about 40 ms, and on the x-gated table the single best predictor of the
    trained score (Spearman ρ ≈ −0.7 for the loss; see ``benchmarks/bench_surrogate.py``).

Everything is deterministic (fixed probe points, fixed init seed), so a feature vector is a pure
function of (candidate, task). Non-finite values are clipped to ±``BIG`` so that a regressor can
use them. About 40 ms a candidate on one CPU thread (``Featurizer(proxy_steps=0)`` leaves (d) out).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from actsearch.grammar.activation import LayerFactory
from actsearch.grammar.slope import value_and_slope

PARAM_VALUES = (0.5, 1.0, 2.0)  # every learnable constant is set to each of these in turn
BIG = 1e6  # non-finite or huge feature values are clipped to ±BIG
SCALAR_NAMES = (
    "e_f2", "e_f", "e_df2", "f0", "df0", "min6", "monotonic",
    "growth_left", "growth_right", "flat_frac", "nonfinite",
)
PROPAGATION_NAMES = ("log_std_last", "log_std_first", "log_grad_ratio", "loss0", "prop_nonfinite")
PROXY_NAMES = ("proxy_loss", "proxy_acc")
PROXY_STEPS = 20  # Adam steps of the trainability proxy (d)
PROXY_EXAMPLES = 1024  # training examples the proxy draws minibatches from and is scored on

_N_NORMAL = 1000  # normal quantiles for the expectations
_GRID = torch.linspace(-6.0, 6.0, 1201)
_NORMAL = torch.special.ndtri((torch.arange(_N_NORMAL, dtype=torch.float64) + 0.5) / _N_NORMAL).float()
_TAILS = torch.tensor([-10.0, 10.0])


def clip(value: float) -> float:
    """A finite float: NaN → BIG (treated as 'exploded'), ±inf and huge values → ±BIG."""
    if value != value:
        return BIG
    return float(min(max(value, -BIG), BIG))


def set_params(module: nn.Module, value: float | None) -> nn.Module:
    """Set every learnable constant of ``module`` to ``value`` (None: leave them as built)."""
    if value is not None:
        with torch.no_grad():
            for p in module.parameters():
                p.fill_(value)
    return module


def _value_and_grad(f: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return value_and_slope(f, x)


def scalar_features(f: nn.Module) -> dict[str, float]:
    """Group (b): shape properties of the elementwise function ``f`` (see the module docstring)."""
    yz, gz = _value_and_grad(f, _NORMAL)
    yg, gg = _value_and_grad(f, _GRID)
    yt, _ = _value_and_grad(f, _TAILS)
    y0, g0 = _value_and_grad(f, torch.zeros(1))
    finite_g = torch.isfinite(gg)
    monotonic = bool(finite_g.all()) and (bool((gg >= -1e-6).all()) or bool((gg <= 1e-6).all()))
    all_y = torch.cat([yz, yg, yt, y0, gz, gg, g0])
    with np.errstate(all="ignore"):
        out = {
            "e_f2": float((yz.double() ** 2).mean()),
            "e_f": float(yz.double().mean()),
            "e_df2": float((gz.double() ** 2).mean()),
            "f0": float(y0[0]),
            "df0": float(g0[0]),
            "min6": float(yg.min()) if torch.isfinite(yg).all() else -math.inf,
            "monotonic": float(monotonic),
            "growth_left": float(yt[0].abs() / 10.0),
            "growth_right": float(yt[1].abs() / 10.0),
            "flat_frac": float((gg.abs() < 1e-6).float().mean()),
            "nonfinite": float((~torch.isfinite(all_y)).float().mean()),
        }
    return {k: clip(v) for k, v in out.items()}


class Probe:
    """A child network and one fixed batch: what features (c) propagate a signal through.

    ``build(act_factory)`` returns a fresh network whose activations are ``act_factory()``
    modules (one per layer); ``inputs``/``targets`` are a batch for a cross-entropy loss (the
    propagation pass); ``train_inputs``/``train_targets`` (default: the same batch) the examples the
    trainability proxy trains on with Adam at ``lr`` in minibatches of ``batch_size``.
    """

    def __init__(self, name: str, build: Callable[[Callable[[], nn.Module]], nn.Module],
                 inputs: torch.Tensor, targets: torch.Tensor, *, train_inputs: torch.Tensor | None = None,
                 train_targets: torch.Tensor | None = None, lr: float = 1e-3, batch_size: int = 128) -> None:
        self.name, self.inputs, self.targets = name, inputs, targets
        self._build = build
        self.train_inputs = inputs if train_inputs is None else train_inputs
        self.train_targets = targets if train_targets is None else train_targets
        self.lr, self.batch_size = lr, batch_size

    def build(self, act_factory: Callable[[], nn.Module]) -> nn.Module:
        """A fresh network; it may call the factory as a model library does (``act(inplace=True)``)."""
        return self._build(LayerFactory(act_factory))


def deep_mlp(act_factory: Callable[[], nn.Module], sizes: Sequence[int] = (40, *[100] * 7, 10)) -> nn.Module:
    """The deep plain MLP of the default task: He-normal (ReLU gain) hidden layers, zero bias."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        lin = nn.Linear(n_in, n_out)
        if i < len(sizes) - 2:
            nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
            nn.init.zeros_(lin.bias)
            layers += [lin, act_factory()]
        else:
            layers.append(lin)
    return nn.Sequential(*layers)


def default_probe(batch: int = 256) -> Probe:
    """A task-free probe: the deep MLP on fixed Gaussian inputs with fixed random labels."""
    gen = torch.Generator().manual_seed(0)
    inputs = torch.randn(max(batch, PROXY_EXAMPLES), 40, generator=gen)
    targets = torch.randint(0, 10, (len(inputs),), generator=gen)
    return Probe("gaussian", deep_mlp, inputs[:batch], targets[:batch], train_inputs=inputs, train_targets=targets)


class ProbeTimeout(Exception):
    """The propagation pass ran past its deadline (a network too large to probe in time)."""


def propagation_features(make_act: Callable[[], nn.Module], probe: Probe,
                         deadline: float | None = None) -> dict[str, float]:
    """Group (c): one forward/backward pass at initialisation (fixed init seed).

    ``deadline`` (a ``time.perf_counter()`` value): :class:`ProbeTimeout` once it has passed, checked
    as each activation is built and applied, so a huge network stops within one layer."""
    outputs: list[torch.Tensor] = []

    def on_time() -> None:
        if deadline is not None and time.perf_counter() > deadline:
            raise ProbeTimeout

    def hook(_m: nn.Module, _i: Any, out: torch.Tensor) -> None:
        outputs.append(out.detach())
        on_time()

    def factory() -> nn.Module:
        on_time()
        module = make_act()
        module.register_forward_hook(hook)
        return module

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = probe.build(factory)
    weights = [p for p in net.parameters() if p.dim() >= 2]
    with np.errstate(all="ignore"):
        try:
            logits = net(probe.inputs)
            loss = nn.functional.cross_entropy(logits, probe.targets)
            loss.backward()
            loss = float(loss.detach())
        except RuntimeError:  # e.g. a shape error from a broken candidate
            return {k: BIG for k in PROPAGATION_NAMES}
        stds = [float(o.double().std()) for o in outputs] or [float(logits.double().std())]
        grads = [float(w.grad.double().norm()) if w.grad is not None else 0.0 for w in weights]
    nonfinite = not all(math.isfinite(v) for v in [*stds, *grads, loss])
    out = {
        "log_std_last": _log(stds[-1]),
        "log_std_first": _log(stds[0]),
        "log_grad_ratio": _log(grads[0]) - _log(grads[-1]) if grads else 0.0,
        "loss0": loss,
        "prop_nonfinite": float(nonfinite),
    }
    return {k: clip(v) for k, v in out.items()}


def proxy_features(make_act: Callable[[], nn.Module], probe: Probe, steps: int = PROXY_STEPS) -> dict[str, float]:
    """Group (d): loss and accuracy on the probe's training examples after ``steps`` Adam steps
    (fixed init and minibatch seeds). A step that goes non-finite ends it with loss ``BIG``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = probe.build(make_act)
    xs, ys = probe.train_inputs, probe.train_targets
    gen = torch.Generator().manual_seed(0)
    opt = torch.optim.Adam(net.parameters(), lr=probe.lr)
    size = min(probe.batch_size, len(xs))
    try:
        for _ in range(steps):
            idx = torch.randint(0, len(xs), (size,), generator=gen)
            loss = nn.functional.cross_entropy(net(xs[idx]), ys[idx])
            if not torch.isfinite(loss):
                return {"proxy_loss": BIG, "proxy_acc": 0.0}
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        with torch.no_grad():
            logits = net(xs)
            final = float(nn.functional.cross_entropy(logits, ys))
            acc = float((logits.argmax(1) == ys).double().mean())
    except RuntimeError:  # e.g. a shape error from a broken candidate
        return {"proxy_loss": BIG, "proxy_acc": 0.0}
    return {"proxy_loss": clip(final), "proxy_acc": acc if math.isfinite(final) else 0.0}


def _log(v: float) -> float:
    if v != v or v == math.inf:
        return math.inf
    return math.log(v) if v > 1e-30 else math.log(1e-30)


def feature_names(values: Sequence[float] = PARAM_VALUES, proxy_steps: int = PROXY_STEPS,
                  propagation: bool = True) -> list[str]:
    """Names of the entries of a feature vector, in order (``e_f2@1``, ``log_std_last@0.5`` ...,
    then ``proxy_loss`` and ``proxy_acc`` unless ``proxy_steps`` is 0; no ``log_std_*`` ... without
    ``propagation``)."""
    groups = (*SCALAR_NAMES, *PROPAGATION_NAMES) if propagation else SCALAR_NAMES
    names = [f"{n}@{v:g}" for v in values for n in groups]
    return names + (list(PROXY_NAMES) if proxy_steps else [])


class Featurizer:
    """Feature vectors for candidates on one probe, cached by expression text and parameters.

    ``Featurizer(task)`` uses the task's child network and real data (``probe_for(task)``);
    ``Featurizer()`` the task-free Gaussian probe. ``proxy_steps=0`` leaves out group (d),
    ``propagation=False`` group (c): then a vector costs milliseconds whatever the network.
    """

    def __init__(self, task: Any = None, values: Sequence[float] = PARAM_VALUES,
                 proxy_steps: int = PROXY_STEPS, probe: Probe | None = None, propagation: bool = True) -> None:
        self.probe = probe if probe is not None else default_probe() if task is None else probe_for(task)
        self.values, self.proxy_steps, self.propagation = tuple(values), proxy_steps, propagation
        self.names = feature_names(self.values, proxy_steps, propagation)
        self._cache: dict[tuple, np.ndarray] = {}

    def vector(self, act: Any) -> np.ndarray:
        """The feature vector of an ``Activation`` (cached by its text and initial parameters).

        Not by fingerprint: two texts of one function can differ in the last bits of a feature,
        and a searcher's choices must not depend on which of them was featurised first.
        """
        key = (act.text, tuple(sorted(act.params.items())))
        if key not in self._cache:
            self._cache[key] = self._compute(act)
        return self._cache[key]

    def matrix(self, acts: Sequence[Any]) -> np.ndarray:
        """Stacked feature vectors, one row per activation."""
        if not acts:
            return np.zeros((0, len(self.names)))
        return np.stack([self.vector(a) for a in acts])

    def as_dict(self, act: Any) -> dict[str, float]:
        """The feature vector as a name → value dict."""
        return dict(zip(self.names, (float(v) for v in self.vector(act)), strict=True))

    def initial_propagation(self, act: Any, deadline: float | None = None) -> dict[str, float]:
        """Group (c) at the candidate's initial constants — what the pre-screen judges. Read from the
        cached feature vector when there is one and those constants are one of ``values``, else one
        forward/backward pass (cached too; :class:`ProbeTimeout` once ``deadline`` has passed)."""
        values = set(act.params.values())
        key = (act.text, tuple(sorted(act.params.items())))
        if self.propagation and key in self._cache and len(values) <= 1 and (values or {1.0}) <= set(self.values):
            feats = self.as_dict(act)
            v = next(iter(values), self.values[0])
            return {k.split("@")[0]: x for k, x in feats.items() if k.endswith(f"@{v:g}")}
        key = ("init", *key)
        if key not in self._cache:
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                feats = propagation_features(act.module, self.probe, deadline=deadline)
            finally:
                torch.set_num_threads(threads)
            self._cache[key] = np.asarray([feats[n] for n in PROPAGATION_NAMES], dtype=np.float64)
        return dict(zip(PROPAGATION_NAMES, (float(v) for v in self._cache[key]), strict=True))

    def _compute(self, act: Any) -> np.ndarray:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            rows: list[list[float]] = []
            for i, value in enumerate(self.values):
                if i and not act.params:  # no learnable constant: every value gives the same row
                    rows.append(rows[0])
                    continue
                f = set_params(act.module(), value)
                b = scalar_features(f)
                rows.append([b[n] for n in SCALAR_NAMES])
                if self.propagation:
                    c = propagation_features(lambda v=value: set_params(act.module(), v), self.probe)
                    rows[-1] += [c[n] for n in PROPAGATION_NAMES]
            if self.proxy_steps:
                d = proxy_features(act.module, self.probe, self.proxy_steps)
                rows.append([d[n] for n in PROXY_NAMES])
        finally:
            torch.set_num_threads(threads)
        return np.asarray([v for row in rows for v in row], dtype=np.float64)


_SHARED: dict[str, Featurizer] = {}


def shared_featurizer(task: Any = None) -> Featurizer:
    """One ``Featurizer`` per task name per process (features are deterministic, so sharing the
    cache between searchers is safe); a ``Task`` object gets a fresh one."""
    if task is not None and not isinstance(task, str):
        return Featurizer(task)
    key = task or ""
    if key not in _SHARED:
        _SHARED[key] = Featurizer(task)
    return _SHARED[key]


def probe_for(task: Any, batch: int = 256) -> Probe:
    """The probe of a task (a name or a ``Task``): its child network, its first ``batch`` training
    examples for propagation and its first ``PROXY_EXAMPLES`` (its learning rate and batch size)
    for the trainability proxy — what the task's ``probe()`` gives; a task without one (toy or
    table tasks) gets the task-free Gaussian probe.
    """
    if isinstance(task, str):
        from actsearch.evaluators import get_task

        task = get_task(task)
    probe = task.probe()
    if probe is None:
        return default_probe(batch)
    n = max(batch, PROXY_EXAMPLES)
    inputs, targets = probe.inputs[:n].cpu(), probe.targets[:n].cpu()
    return Probe(task.name, probe.build, inputs[:batch], targets[:batch], train_inputs=inputs,
                 train_targets=targets, lr=float(probe.lr), batch_size=int(probe.batch_size))


def probe_kind(task: Any) -> str:
    """Which probe :func:`probe_for` gives ``task`` (a name or a ``Task``): ``"task"`` (its own
    network and data) or ``"gaussian"`` (the task-free fallback)."""
    if isinstance(task, str):
        from actsearch.evaluators import get_task

        task = get_task(task)
    return "task" if task.probe() is not None else "gaussian"


def features(act: Any, task: Any = None) -> dict[str, float]:
    """Convenience: the named feature vector of one candidate (text or ``Activation``)."""
    if isinstance(act, str):
        from actsearch.grammar import parse

        act = parse(act)
    return Featurizer(task).as_dict(act)
