"""Per training step of stacked members of the MNIST-1D deep MLP, one CPU thread: which engine,
which allocator setting, and why the ResNet's convolutions are not stacked.

- :func:`engines`: ms per step (forward, backward, Adam) of 5 swish members, by engine: the
  stacked network differentiated by hand (the default), the same stack differentiated by
  autograd, ``torch.func`` (``stack_module_state`` + ``vmap(functional_call)``), five separate
  networks, and ``torch.compile`` of the autograd stack's loss (its compile time and the steps it
  takes to pay it back).
- :func:`allocator`: glibc's default allocator settings vs ``allocator.keep_freed_memory``, each
  in a fresh process.
- :func:`grouped_conv`: one 3-tap conv of ``mnist1d-resnet``'s first stage for 5 members as one
  grouped conv vs five separate convs.

Run by ``bench_batched.py`` (which saves the figures with its own); times are this process's CPU
seconds, the fewest of ``repeats`` runs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from harness import fewest_ms

from actsearch.evaluators import get_task

ROOT = Path(__file__).resolve().parent


def engines(steps: int, reps: int, compile_too: bool, repeats: int = 2) -> dict:
    """ms per training step (forward, backward, Adam) of 5 swish members, by engine: the stacked
    network differentiated by hand (the default), the same stack differentiated by autograd (the
    previous default), ``torch.func`` (``stack_module_state`` + ``vmap(functional_call)``), five
    separate networks, and ``torch.compile`` of the autograd stack's loss."""
    import copy

    from torch.func import functional_call, stack_module_state, vmap
    from torch.nn import functional as F

    from actsearch.evaluators.candidate import as_candidate
    from actsearch.evaluators.training.engine import member_form
    from actsearch.evaluators.training.stacked_mlp import StackedMLP

    task = get_task("mnist1d", steps=steps)
    cand, members = as_candidate("swish"), 5
    split = task.split()
    models = []
    for seed in range(members):
        torch.manual_seed(seed)
        models.append(task.build(cand, None)[0])
    gen = torch.Generator().manual_seed(0)

    def batch() -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(len(split.y_train), (members, 128), generator=gen)
        return split.x_train[idx], split.y_train[idx]

    def per_step(step) -> float:
        return fewest_ms(step, reps, repeats, max(3, reps // 10))

    def autograd_step(loss_of, params):
        opt = torch.optim.Adam(params, lr=1e-3, fused=True)

        def step() -> None:
            xb, yb = batch()
            opt.zero_grad(set_to_none=True)
            loss_of(xb, yb).sum().backward()
            opt.step()

        return step

    def per_member(out, yb):
        return F.cross_entropy(out.reshape(-1, 10), yb.reshape(-1), reduction="none").view(members, -1).mean(1)

    net = StackedMLP([copy.deepcopy(m) for m in models], [(member_form(cand), members)])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, fused=True)

    def hand() -> None:
        net.loss_backward(*batch())
        opt.step()

    out = {"members": members, "stacked_hand_ms": per_step(hand)}

    def autograd_stack():
        """The same stacked network as leaves that autograd differentiates."""
        ref = StackedMLP([copy.deepcopy(m) for m in models], [(member_form(cand), members)])
        ws = [w.clone().requires_grad_(True) for w in ref.weights]
        bs = [b.clone().requires_grad_(True) for b in ref.biases]
        cs = [{n: c.clone().requires_grad_(True) for n, c in layer.items()} for layer in ref.groups[0].consts]
        fn = ref.groups[0].fn

        def loss(xb, yb):
            h = xb
            for i, (w, b) in enumerate(zip(ws, bs, strict=True)):
                h = torch.baddbmm(b, h, w)
                if i < len(ws) - 1:
                    h = fn(h, cs[i])
            return per_member(h, yb)

        return loss, [*ws, *bs, *(c for layer in cs for c in layer.values())]

    loss, params = autograd_stack()
    out["stacked_autograd_ms"] = per_step(autograd_step(loss, params))
    params_v, buffers = stack_module_state([copy.deepcopy(m) for m in models])
    base = copy.deepcopy(models[0]).to("meta")

    def vmapped(xb, yb):
        logits = vmap(lambda p, b, x: functional_call(base, (p, b), (x,)))(params_v, buffers, xb)
        return per_member(logits, yb)

    out["torch_func_vmap_ms"] = per_step(autograd_step(vmapped, list(params_v.values())))
    separate = [copy.deepcopy(m) for m in models]

    def one_by_one(xb, yb):
        return torch.stack([F.cross_entropy(m(xb[k]), yb[k]) for k, m in enumerate(separate)])

    out["separate_networks_ms"] = per_step(autograd_step(one_by_one, [p for m in separate for p in m.parameters()]))
    if compile_too:
        loss_c, params_c = autograd_stack()
        compiled = torch.compile(loss_c, dynamic=False)
        start = time.perf_counter()  # wall: inductor compiles in worker processes too
        xb, yb = batch()
        compiled(xb, yb).sum().backward()  # the first call compiles forward and backward
        out["compile_s"] = time.perf_counter() - start
        out["compiled_ms"] = per_step(autograd_step(compiled, params_c))
        saved = out["stacked_hand_ms"] - out["compiled_ms"]
        out["compile_break_even_steps"] = out["compile_s"] * 1e3 / saved if saved > 0 else None
    print("per step, 5 swish members: " + ", ".join(f"{k} {v:.3g}" for k, v in out.items()
                                                     if isinstance(v, float)), flush=True)
    return out


def stack_step_ms(members: int, reps: int, repeats: int = 2) -> float:
    """ms of CPU per training step (hand-differentiated stack, Adam) of ``members`` swish members."""
    from actsearch.evaluators.candidate import as_candidate
    from actsearch.evaluators.training.engine import member_form
    from actsearch.evaluators.training.stacked_mlp import StackedMLP

    task = get_task("mnist1d")
    cand, split = as_candidate("swish"), task.split()
    models = []
    for seed in range(members):
        torch.manual_seed(seed)
        models.append(task.build(cand, None)[0])
    net = StackedMLP(models, [(member_form(cand), members)])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, fused=True)
    gen = torch.Generator().manual_seed(0)

    def step() -> None:
        idx = torch.randint(len(split.y_train), (members, 128), generator=gen)
        net.loss_backward(split.x_train[idx], split.y_train[idx])
        opt.step()

    return fewest_ms(step, reps, repeats + 1, max(3, reps // 10))


def allocator(reps: int, counts: tuple[int, ...], repeats: int = 2) -> list[dict]:
    """Per-step ms of the stack with glibc's default allocator settings vs
    ``allocator.keep_freed_memory`` (each in a fresh process: the setting is process-wide),
    alternately, the fewest of two processes each."""
    import subprocess

    def child(members: int, keep: bool) -> float:
        code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); import torch, bench_step as b; "
                f"torch.set_num_threads(1); "
                f"from actsearch.evaluators.training import allocator; "
                f"{'allocator.keep_freed_memory(); ' if keep else ''}"
                f"print(b.stack_step_ms({members}, {reps}, {repeats}))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             cwd=ROOT.parent)
        return float(out.stdout.strip().splitlines()[-1])

    rows = []
    for m in counts:
        default, keep = float("inf"), float("inf")
        for _ in range(2):
            default, keep = min(default, child(m, False)), min(keep, child(m, True))
        rows.append({"members": m, "default_ms": default, "keep_freed_ms": keep, "speedup": default / keep})
        print(f"allocator, {m:2d} members: default {default:.2f} ms/step, keep_freed_memory {keep:.2f} "
              f"({default / keep:.2f}x)", flush=True)
    return rows


def grouped_conv(reps: int, repeats: int = 2) -> dict:
    """ms of CPU per forward+backward: 5 members' conv as one grouped conv vs 5 separate convs."""
    from torch.nn import functional as F

    members, b, c, length = 5, 128, 32, 40
    x = torch.randn(b, members * c, length, requires_grad=True)
    w = torch.randn(members * c, c, 3, requires_grad=True)
    xs = [torch.randn(b, c, length, requires_grad=True) for _ in range(members)]
    ws = [torch.randn(c, c, 3, requires_grad=True) for _ in range(members)]

    def per_call(fn) -> float:
        return fewest_ms(fn, reps // 4, repeats, max(3, reps // 20))

    out = {"members": members,
           "grouped_ms": per_call(lambda: F.conv1d(x, w, padding=1, groups=members).sum().backward()),
           "separate_ms": per_call(lambda: sum(F.conv1d(a, k, padding=1).sum()
                                               for a, k in zip(xs, ws, strict=True)).backward())}
    print(f"conv1d, 5 members: grouped {out['grouped_ms']:.2f} ms, separate {out['separate_ms']:.2f} ms", flush=True)
    return out
