"""actsearch: search for neural-network activation functions.

The public API is small and imported lazily, so ``import actsearch`` stays fast::

    act = actsearch.parse("x * sigmoid(beta * x)", beta=1.0)
    act.fingerprint, act.canonical, act.module(), act.properties()
    actsearch.get("smelu", beta=1.0)          # a named activation from the literature
    run = actsearch.open_run("runs/my-search")  # leaderboard, best, export

Your own network and data (see examples/ and the README's "Search on your own network")::

    task = actsearch.ModelTask(model=lambda act: MyNet(act), train=(x, y), val=(xv, yv), steps=500)
    @actsearch.task("my-task", steps=200)       # or a full-control fn(act, seed, report[, settings])
    def train(act, seed, report, settings): ...
    actsearch.evaluate("x * sigmoid(x)", task, seeds=(0, 1))
    actsearch.swap_activations(my_model, "x * sigmoid(x)", kinds=(nn.ReLU,))
    run = actsearch.run_search(space="quick", searcher="random", task="digits", budget=10)  # in memory

Your own searcher (and space, or store) in the same loop; installed packages add searchers by name
through the ``actsearch.searchers`` entry-point group (docs/guide.md, "Extending actsearch")::

    @actsearch.register_searcher("mine")
    class Mine(actsearch.Searcher): ...        # ask(id) -> Proposal | WAIT | FINISHED, tell(id, Outcome)
    run = actsearch.run_search(space=actsearch.Space(...), searcher="mine", task="digits", budget=10)
    study = actsearch.Study(actsearch.open_store(None), task="digits", searcher=Mine(space), budget=10)
"""

from __future__ import annotations

from typing import Any

from actsearch.errors import UserError

__version__ = "0.1.0"

_LAZY = {
    "parse": "actsearch.grammar",
    "Activation": "actsearch.grammar",
    "ExpressionError": "actsearch.grammar",
    "get": "actsearch.grammar.library",
    "library": "actsearch.grammar.library",
    "open_run": "actsearch.results",
    "evaluate": "actsearch.evaluators.scoring",
    "get_task": "actsearch.evaluators.lookup",
    "task": "actsearch.evaluators.user",
    "ModelTask": "actsearch.evaluators.model_task",
    "TaskProbe": "actsearch.evaluators.protocol",
    "swap_activations": "actsearch.evaluators.swap",
    "run_search": "actsearch.search.api",
    "confirm": "actsearch.search.pipelines.confirm",
    # the search loop and its extension points: your own searcher, space or store
    "Study": "actsearch.search.loop.study",
    "Searcher": "actsearch.search.searchers",
    "Proposal": "actsearch.search.searchers",
    "Outcome": "actsearch.search.searchers",
    "WAIT": "actsearch.search.searchers",
    "FINISHED": "actsearch.search.searchers",
    "register_searcher": "actsearch.search.searchers",
    "register_task": "actsearch.evaluators",
    "Space": "actsearch.search.space",
    "Store": "actsearch.results.store",
    "open_store": "actsearch.results.store",
    # what a result, a stored row and a trial are: str enums (Status.OK == "ok", printed as ok)
    "Status": "actsearch.evaluators.result",
    "Role": "actsearch.results.records",
    "TrialState": "actsearch.results.records",
}

__all__ = ["UserError", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name])
        value = module if name == "library" else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'actsearch' has no attribute {name!r}")
