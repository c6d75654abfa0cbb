"""A generated run store (no search needed), written through the store's writer API.

Task ``digits``: five ranked functions (one with an alias, two with an equal score), relu and
swish as references, a diverged and an invalid candidate; task ``digits`` with settings
``steps=50`` (label ``digits[steps=50]``): validation rows for the winner and relu. ``fill(run_dir, predicted=True)``: the same run as a ``surrogate``
search would store it, each search candidate with the score predicted before training (``PREDICTED``).
"""

from __future__ import annotations

from pathlib import Path

import actsearch
from actsearch.evaluators.result import CandidateResult, EvalResult
from actsearch.results.store import SqliteStore

TASK = "digits"
VAL_TASK = "digits[steps=50]"

# expression, params, per-seed scores, status, aliases
SEARCH = [
    ("x * sigmoid(beta * x)", {"beta": 1.5}, [0.96, 0.94], "ok", ["x / (1 + exp(-beta * x))"]),
    ("max(x, 0) + 0.1 * x", {}, [0.93, 0.93], "ok", []),
    ("tanh(x) * x", {}, [0.91, 0.89], "ok", []),
    ("sin(x)", {}, [0.70, 0.90], "ok", []),  # mean 0.80, std 0.10
    ("cos(x) + x", {}, [0.80, 0.80], "ok", []),  # mean 0.80, std 0.0: ranks above sin(x)
    ("exp(x)^3", {}, [0.5, 0.0], "diverged", []),
]
REFERENCES = [("relu", [0.92, 0.90]), ("swish", [0.95, 0.93])]
PREDICTED = [0.90, 0.95, 0.85, 0.70, 0.75, 0.60]  # per SEARCH row: the surrogate's forecast


def result(scores: list[float], status: str = "ok", error: str | None = None) -> CandidateResult:
    runs = [EvalResult(status="ok", score=s, seed=i, wall_s=0.5, metrics={"dnr": 0.1 * i}) for i, s in
            enumerate(scores)]
    if status != "ok":
        runs[-1] = EvalResult(status=status, score=0.0, seed=len(scores) - 1, error=error, step=12)
    return CandidateResult.from_runs(runs, metrics={"pd": 0.05})


def fill(run_dir: Path, predicted: bool = False) -> Path:
    """Write the generated run into ``run_dir`` and return it."""
    with SqliteStore(run_dir) as store:
        store.init_run({"command": "actsearch search --space quick --task digits", "task": TASK,
                        "searcher": "random", "seed": 0, "space": "quick", "budget": 10})
        for step, (text, params, scores, status, aliases) in enumerate(SEARCH):
            act = actsearch.parse(text, **params)
            res = result(scores, status, "loss became nan at step 12" if status != "ok" else None)
            if predicted:
                res.metrics.update(predicted=PREDICTED[step], predicted_spread=0.02)
            store.record(text, act.fingerprint, res, task=TASK, role="search", trial=step + 1,
                         canonical=act.canonical, params=act.params, searcher="random", step=step,
                         seeds=[0, 1], aliases=aliases)
        store.record_invalid("x * 0", actsearch.parse("x * 0").fingerprint, "constant", task=TASK,
                             searcher="random", step=len(SEARCH))
        for k, (name, scores) in enumerate(REFERENCES):  # as the search loop stores them
            text = actsearch.library.expression(name)
            store.record(text, actsearch.parse(text).fingerprint, result(scores), task=TASK, role="reference",
                         reference=name, searcher="reference", trial=len(SEARCH) + 1 + k, seeds=[0, 1])
        for text, params, scores in (("x * sigmoid(beta * x)", {"beta": 1.5}, [0.97, 0.95, 0.96]),
                                     ("relu", {}, [0.90, 0.91, 0.92])):
            act = actsearch.parse(actsearch.library.expression(text) if text == "relu" else text, **params)
            store.record(act.text if text == "relu" else text, act.fingerprint, result(scores), task=TASK,
                         settings={"steps": 50}, role="validation", reference="relu" if text == "relu" else None,
                         params=act.params, seeds=[0, 1, 2], searcher="validate")
    return run_dir
