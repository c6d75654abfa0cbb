"""The paper's RL controller: an LSTM emits each core unit's tokens, trained with PPO.

The controller emits one token per step — binary, input 1, input 2, unary 1, unary 2 for every unit
(the space's token order) — from a softmax over that position's values, masked to the values the
space allows after the prefix. It proposes a batch of ``batch_size`` candidates with new
fingerprints (samples that repeat one, or one the run holds, are drawn again; after ``_TRIES`` rounds it falls back to
uniform samples). Once every proposal of the batch has completed, the rewards (the validation score;
0 for a failure) minus an exponential-moving-average baseline are the advantages of a clipped PPO
update (Schulman et al. 2017) over a few epochs. Until then ``suggest`` answers ``WAIT``.

Small and CPU-fast on purpose (hidden size 32); deterministic per seed through a private
``torch.Generator``. ``state()`` holds the controller and optimizer weights as lists and the RNG
states, so a restored searcher makes the same next suggestions.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from actsearch.search.searchers.base import FINISHED, WAIT, Outcome, Proposal, _Sentinel
from actsearch.search.searchers.common import IndexStream, SpaceSearcher

_TRIES = 8  # sampling rounds per batch before uniform samples fill it up


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run the tiny controller on one thread (several threads only contend on tiny tensors)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _controller(vocabs: list[int], hidden: int):  # noqa: ANN202 - torch module, built lazily
    import torch
    from torch import nn

    class Controller(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.start = nn.Parameter(torch.zeros(1, hidden))
            self.embed = nn.ModuleList(nn.Embedding(v, hidden) for v in vocabs)
            self.cell = nn.LSTMCell(hidden, hidden)
            self.heads = nn.ModuleList(nn.Linear(hidden, v) for v in vocabs)
            for head in self.heads:  # start as the prior alone: a uniform sampler of the space
                nn.init.zeros_(head.weight)
                nn.init.zeros_(head.bias)

        def run(self, n: int, masks_fn: Any, tokens: Any = None, generator: Any = None) -> tuple[Any, Any, Any]:
            """Sample n sequences (tokens None) or score given ones: (tokens, log-prob, entropy)."""
            inp = self.start.expand(n, hidden)
            state = None
            out, logp, ent = [], torch.zeros(n), torch.zeros(n)
            for pos, head in enumerate(self.heads):
                h, c = self.cell(inp, state)
                state = (h, c)
                logits = head(h) + masks_fn(pos, out)  # log prior: -inf where not allowed
                dist = torch.distributions.Categorical(logits=logits)
                if tokens is None:
                    tok = torch.multinomial(dist.probs, 1, generator=generator).squeeze(1)
                else:
                    tok = tokens[:, pos]
                out.append(tok)
                logp = logp + dist.log_prob(tok)
                ent = ent + (dist.probs * torch.where(dist.probs > 0, dist.logits, 0.0)).sum(-1).neg()
                inp = self.embed[pos](tok)
            return torch.stack(out, 1), logp, ent

    return Controller()


class RLController(SpaceSearcher):
    """LSTM controller + PPO with an EMA baseline, proposing batches of new fingerprints."""

    name = "rl"

    def __init__(
        self,
        space: Any,
        *,
        seed: int = 0,
        batch_size: int = 8,
        hidden: int = 32,
        lr: float = 0.05,
        epochs: int = 4,
        clip: float = 0.2,
        entropy: float = 0.01,
        baseline_decay: float = 0.8,
    ) -> None:
        import torch

        super().__init__(space, seed=seed)
        self.batch_size, self.epochs, self.clip, self.entropy = batch_size, epochs, clip, entropy
        self.baseline_decay, self.baseline = baseline_decay, None
        self.vocabs = [space.vocab(p) for p in range(space.n_tokens)]
        self.generator = torch.Generator().manual_seed(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.net = _controller(self.vocabs, hidden)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=lr)
        self.stream = IndexStream(space.raw_size)
        self.queue: list[list[Any]] = []  # [tokens, origin] of this batch not yet handed out
        self.batch: dict[int, list[Any]] = {}  # proposal id -> [tokens, reward (None while running)]

    def _masks_fn(self, n: int) -> Any:
        """Per position, log(number of completions) of each allowed token, -inf for the others.

        With zero-initialised heads the controller thus starts as a uniform sampler of the space.
        """
        import torch

        def masks(pos: int, prefix: list[Any]) -> Any:
            rows = torch.full((n, self.vocabs[pos]), float("-inf"))
            for i in range(n):
                for v, count in self.space.next_counts([int(t[i]) for t in prefix]).items():
                    rows[i, v] = math.log(count)
            return rows

        return masks

    def _sample_batch(self) -> None:
        import torch

        taken: set[str] = set()
        for _ in range(_TRIES):
            if len(self.queue) >= self.batch_size:
                break
            with torch.no_grad():
                tokens, _, _ = self.net.run(self.batch_size, self._masks_fn(self.batch_size), generator=self.generator)
            for toks in tokens.tolist():
                fp = self._fresh(self.space.from_tokens(toks), taken)
                if len(self.queue) < self.batch_size and fp is not None:
                    taken.add(fp)
                    self.queue.append([toks, "controller"])
        while len(self.queue) < self.batch_size and not self.stream.done:
            cand = self.space.at(self.stream.next(self.rng))
            fp = self._fresh(cand, taken)
            if fp is not None:
                taken.add(fp)
                self.queue.append([self.space.to_tokens(cand), "random"])
        self.batch = {}

    def _update(self) -> None:
        import torch

        ids = list(self.batch)
        rewards = torch.tensor([self.batch[i][1] for i in ids])
        mean = float(rewards.mean())
        self.baseline = mean if self.baseline is None else self.baseline
        adv = rewards - self.baseline
        if len(ids) > 1 and float(rewards.std()) > 0:
            adv = adv / (float(rewards.std()) + 1e-8)
        self.baseline = self.baseline_decay * self.baseline + (1 - self.baseline_decay) * mean
        tokens = torch.tensor([self.batch[i][0] for i in ids])
        masks = self._masks_fn(len(ids))
        with torch.no_grad():
            _, old, _ = self.net.run(len(ids), masks, tokens=tokens)
        for _ in range(self.epochs):
            _, logp, ent = self.net.run(len(ids), masks, tokens=tokens)
            ratio = torch.exp(logp - old)
            surrogate = torch.min(ratio * adv, ratio.clamp(1 - self.clip, 1 + self.clip) * adv)
            loss = -(surrogate.mean() + self.entropy * ent.mean())
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()

    def ask(self, proposal_id: int) -> Proposal | _Sentinel:
        if not self.queue:
            if any(r is None for _, r in self.batch.values()):
                return WAIT
            with _one_thread():
                if self.batch:
                    self._update()
                self._sample_batch()
            if not self.queue:
                return FINISHED
        tokens, origin = self.queue.pop(0)
        self.batch[proposal_id] = [tokens, None]
        return self._propose(proposal_id, self.space.from_tokens(tokens), origin=origin)

    def tell(self, proposal_id: int, outcome: Outcome) -> None:
        if outcome.skipped:  # the run already held it (e.g. found by another phase): not a batch member
            self.batch.pop(proposal_id, None)
        super().tell(proposal_id, outcome)

    def _complete(self, proposal_id: int, entry: dict[str, Any], fit: float | None) -> None:
        if proposal_id in self.batch:
            self.batch[proposal_id][1] = 0.0 if fit is None else fit

    def state(self) -> dict[str, Any]:
        opt = self.opt.state_dict()
        return {
            **super().state(),
            "net": {k: v.tolist() for k, v in self.net.state_dict().items()},
            "opt": {
                "state": {str(k): {n: t.tolist() for n, t in s.items()} for k, s in opt["state"].items()},
                "param_groups": opt["param_groups"],
            },
            "generator": self.generator.get_state().tolist(),
            "baseline": self.baseline,
            "queue": [list(q) for q in self.queue],
            "batch": [[k, list(v)] for k, v in self.batch.items()],
            "stream": self.stream.state(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        import torch

        super().load_state(state)
        self.net.load_state_dict({k: torch.tensor(v) for k, v in state["net"].items()})
        opt = state["opt"]
        self.opt.load_state_dict(
            {
                "state": {int(k): {n: torch.tensor(t) for n, t in s.items()} for k, s in opt["state"].items()},
                "param_groups": opt["param_groups"],
            }
        )
        self.generator.set_state(torch.tensor(state["generator"], dtype=torch.uint8))
        self.baseline = state["baseline"]
        self.queue = [list(q) for q in state["queue"]]
        self.batch = {int(k): list(v) for k, v in state["batch"]}
        self.stream.load_state(state["stream"])
