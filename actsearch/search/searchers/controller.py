"""The RL controller's policy: an LSTM that emits a candidate's tokens one by one, and its
clipped policy-gradient (PPO) update.

The controller emits one token per step — binary, input 1, input 2, unary 1, unary 2 for every
unit (the space's token order) — from a softmax over that position's values plus the log of
each value's number of completions in the space after the prefix (``-inf`` where a value is not
allowed). Its heads start at zero, so an untrained controller samples the space uniformly.
:class:`Policy` holds the network, its Adam optimiser and a cache of those log-count masks (one
row per distinct prefix, computed once from :meth:`Space.next_counts`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

LOG_RATIO_LIMIT = 20.0  # |log π_new − log π_old| bound in a PPO step


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the tiny controller on one thread (several threads only contend on tiny tensors)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class _Net(nn.Module):
    def __init__(self, vocabs: list[int], hidden: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.start = nn.Parameter(torch.zeros(1, hidden))
        self.embed = nn.ModuleList(nn.Embedding(v, hidden) for v in vocabs)
        self.cell = nn.LSTMCell(hidden, hidden)
        self.heads = nn.ModuleList(nn.Linear(hidden, v) for v in vocabs)
        for head in self.heads:  # start as the prior alone: a uniform sampler of the space
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)


class Policy:
    """The controller network over ``space``'s tokens, with sampling, scoring and PPO."""

    def __init__(self, space: Any, *, seed: int, hidden: int = 32, lr: float = 0.05) -> None:
        self.space = space
        self.vocabs = [space.vocab(p) for p in range(space.n_tokens)]
        self.generator = torch.Generator().manual_seed(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.net = _Net(self.vocabs, hidden)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=lr)
        self._masks: dict[tuple[int, ...], torch.Tensor] = {}  # prefix -> log-count row

    def _mask(self, prefix: tuple[int, ...]) -> torch.Tensor:
        row = self._masks.get(prefix)
        if row is None:
            row = torch.full((self.vocabs[len(prefix)],), float("-inf"))
            for v, count in self.space.next_counts(list(prefix)).items():
                row[v] = math.log(count)
            self._masks[prefix] = row
        return row

    def run(self, n: int, tokens: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sample ``n`` sequences (``tokens`` None) or score the given ones: (tokens, log-prob, entropy)."""
        net = self.net
        inp = net.start.expand(n, net.hidden)
        state = None
        out: list[torch.Tensor] = []
        prefixes: list[tuple[int, ...]] = [()] * n
        logp, ent = torch.zeros(n), torch.zeros(n)
        for pos, head in enumerate(net.heads):
            h, c = net.cell(inp, state)
            state = (h, c)
            logits = head(h) + torch.stack([self._mask(p) for p in prefixes])
            dist = torch.distributions.Categorical(logits=logits)
            if tokens is None:
                tok = torch.multinomial(dist.probs, 1, generator=self.generator).squeeze(1)
            else:
                tok = tokens[:, pos]
            out.append(tok)
            logp = logp + dist.log_prob(tok)
            ent = ent - (dist.probs * torch.where(dist.probs > 0, dist.logits, 0.0)).sum(-1)
            prefixes = [(*p, int(t)) for p, t in zip(prefixes, tok.tolist(), strict=True)]
            inp = net.embed[pos](tok)
        return torch.stack(out, 1), logp, ent

    @torch.no_grad()
    def sample(self, n: int) -> list[list[int]]:
        return self.run(n)[0].tolist()

    def update(self, tokens: Sequence[Sequence[int]], advantages: Sequence[float], *, epochs: int, clip: float,
               entropy: float) -> None:
        """``epochs`` clipped policy-gradient steps on the given sequences and advantages."""
        toks = torch.tensor([list(t) for t in tokens])
        adv = torch.tensor([float(a) for a in advantages])
        with torch.no_grad():
            _, old, _ = self.run(len(toks), toks)
        for _ in range(epochs):
            _, logp, ent = self.run(len(toks), toks)
            # the log-ratio is bounded so that a token the policy has nearly ruled out (a uniform
            # fill-up sample) cannot overflow exp() into an infinite loss and NaN weights
            ratio = torch.exp((logp - old).clamp(-LOG_RATIO_LIMIT, LOG_RATIO_LIMIT))
            surrogate = torch.min(ratio * adv, ratio.clamp(1 - clip, 1 + clip) * adv)
            loss = -(surrogate.mean() + entropy * ent.mean())
            if not torch.isfinite(loss):  # skip a step that could only break the controller
                break
            self.opt.zero_grad()
            loss.backward()
            if not all(torch.isfinite(p.grad).all() for p in self.net.parameters() if p.grad is not None):
                break
            self.opt.step()

    @torch.no_grad()
    def mean_entropy(self, n: int = 64) -> float:
        """The controller's entropy (nats per candidate) over ``n`` fresh samples: how concentrated it is."""
        state = self.generator.get_state()
        _, _, ent = self.run(n)
        self.generator.set_state(state)
        return float(ent.mean())

    def state(self) -> dict[str, Any]:
        opt = self.opt.state_dict()
        return {
            "net": {k: v.tolist() for k, v in self.net.state_dict().items()},
            "opt": {"state": {str(k): {n: t.tolist() for n, t in s.items()} for k, s in opt["state"].items()},
                    "param_groups": opt["param_groups"]},
            "generator": self.generator.get_state().tolist(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict({k: torch.tensor(v) for k, v in state["net"].items()})
        opt = state["opt"]
        self.opt.load_state_dict({
            "state": {int(k): {n: torch.tensor(t) for n, t in s.items()} for k, s in opt["state"].items()},
            "param_groups": opt["param_groups"]})
        self.generator.set_state(torch.tensor(state["generator"], dtype=torch.uint8))


def centred_ranks(values: Sequence[float]) -> list[float]:
    """Each value's average rank among ``values`` as a fraction in [-0.5, 0.5] (ties share a rank)."""
    from scipy.stats import rankdata

    if len(values) < 2:
        return [0.0] * len(values)
    r = rankdata(values)  # 1 .. n, ties averaged
    return [float((x - 1) / (len(values) - 1) - 0.5) for x in r]
