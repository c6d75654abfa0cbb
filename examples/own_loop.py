"""A full-control task: your own data, network and training loop; actsearch only hands you the
activation. Here: an MLP trained by full-batch SGD on scikit-learn's two moons.

::

    actsearch evaluate "x * sigmoid(x)" --task examples/own_loop.py:task --seeds 3 --set steps=300
    actsearch baselines --task examples/own_loop.py:task --only relu --only swish

The function receives ``act`` (``act()`` makes a fresh module of the candidate), the ``seed``,
``report(step, score)`` (progress, ASHA, and the point where ``--time-limit`` can stop it) and
its ``settings`` (the decorator's keywords, overridable with ``--set NAME=VALUE``). It returns
the score (higher is better) or a dict with ``"score"`` and any other metrics.
"""

from __future__ import annotations

import torch
from sklearn.datasets import make_moons
from torch import nn

import actsearch

_X, _Y = (torch.as_tensor(a) for a in make_moons(n_samples=900, noise=0.3, random_state=0))
X, Y = _X.float(), _Y.long()
TRAIN, VAL = slice(0, 500), slice(500, 700)  # the last 200 are the test set


def network(act, hidden: int) -> nn.Module:  # noqa: ANN001 - act is a module factory
    return nn.Sequential(nn.Linear(2, hidden), act(), nn.Linear(hidden, hidden), act(), nn.Linear(hidden, 2))


def accuracy(net: nn.Module, part: slice) -> float:
    with torch.no_grad():
        return float((net(X[part]).argmax(1) == Y[part]).float().mean())


def probe() -> tuple:
    """The network and a batch for the pre-screen and the surrogate's features."""
    return (lambda act: network(act, 32)), X[TRAIN], Y[TRAIN]


@actsearch.task("moons-mlp", probe=probe, steps=400, lr=0.1, hidden=32, checkpoints=4)
def task(act, seed, report, settings):  # noqa: ANN001, ANN201 - the task contract
    """Two moons on a 2-hidden-layer MLP, full-batch SGD with momentum; score = validation accuracy."""
    torch.manual_seed(seed)
    net = network(act, settings.hidden)
    opt = torch.optim.SGD(net.parameters(), lr=settings.lr, momentum=0.9)
    every = max(1, settings.steps // settings.checkpoints)
    for step in range(1, settings.steps + 1):
        loss = nn.functional.cross_entropy(net(X[TRAIN]), Y[TRAIN])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % every == 0:
            report(step // every, accuracy(net, VAL))
    return {"score": accuracy(net, VAL), "test_acc": accuracy(net, slice(700, None)), "train_loss": loss.item()}


if __name__ == "__main__":
    for candidate in ("relu", "x * sigmoid(x)", "tanh"):
        res = actsearch.evaluate(candidate, task, seeds=(0, 1, 2))
        print(f"{candidate:>16}: {res.status} {res.score:.4f} ± {res.score_std:.4f}")
