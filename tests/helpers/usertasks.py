"""Small user tasks for the tests: a ModelTask on random data and full-control functions."""

from __future__ import annotations

import math
import time

import torch
from torch import nn

import actsearch


def blobs(n: int = 240, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Three Gaussian blobs in 6-D: learnable in a few dozen steps."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=gen)
    centers = torch.randn(3, 6, generator=gen) * 3
    return centers[y] + torch.randn(n, 6, generator=gen), y


def mlp(act, width: int = 16) -> nn.Module:
    return nn.Sequential(nn.Linear(6, width), act(), nn.Linear(width, width), act(), nn.Linear(width, 3))


def model_task(**settings) -> actsearch.ModelTask:
    x, y = blobs()
    return actsearch.ModelTask(model=mlp, train=(x[:160], y[:160]), val=(x[160:200], y[160:200]),
                               test=(x[200:], y[200:]), name="blobs-mlp",
                               **{"steps": 40, "batch_size": 32, "lr": 1e-2, **settings})


@actsearch.task("blobs-loop", steps=30, lr=0.05, checkpoints=3)
def loop_task(act, seed, report, settings):
    """A full-control loop on the blobs: SGD, three reports, the score and a test accuracy."""
    torch.manual_seed(seed)
    x, y = blobs()
    net = mlp(act)
    opt = torch.optim.SGD(net.parameters(), lr=settings.lr, momentum=0.9)
    every = max(1, settings.steps // settings.checkpoints)
    for step in range(1, settings.steps + 1):
        loss = nn.functional.cross_entropy(net(x[:160]), y[:160])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % every == 0 and step // every <= settings.checkpoints:
            with torch.no_grad():
                report(step // every, float((net(x[160:200]).argmax(1) == y[160:200]).float().mean()))
    with torch.no_grad():
        val = float((net(x[160:200]).argmax(1) == y[160:200]).float().mean())
        test = float((net(x[200:]).argmax(1) == y[200:]).float().mean())
    return {"score": val, "test_acc": test}


def plain(act, seed, report):
    """A plain function (no decorator): the score is a number."""
    return 0.5 + 0.01 * seed + 0.0 * float(act()(torch.ones(1)).sum())


def raises(act, seed, report):
    raise ValueError("my training broke")


def nan_score(act, seed, report):
    return math.nan


def text_score(act, seed, report):
    return "good"


def sleeps(act, seed, report):
    time.sleep(3.0)  # never reports: the time limit abandons its thread
    return 1.0


def reports_forever(act, seed, report):
    step = 0
    while True:  # only the time limit (raised through report) ends it
        step += 1
        report(step, 0.5)
        time.sleep(0.01)


def wrong_signature(act):
    return 1.0


def returns_text(act, seed, report) -> str:
    return "x"


not_a_task = 42
