"""The in-process executor: runs a study's trials in this process (tests, replays, the Python
API, ``--workers 1`` runs that need no Ray), one trial or one pack of ``pack`` trials at a time."""

from __future__ import annotations

from actsearch.search.loop.study import Study
from actsearch.search.loop.trials import TrialEvent, evaluate_trials
from actsearch.search.searchers.base import FINISHED, WAIT


class InProcessExecutor:
    """Serial executor: ``run(study)`` until the study is finished; returns whether it was interrupted."""

    name = "in-process"

    def __init__(self, pack: int = 1) -> None:
        self.pack = max(1, int(pack))

    def run(self, study: Study) -> bool:
        while True:
            configs = study.next_trials(self.pack)
            if configs is FINISHED:
                return False
            if configs is WAIT:  # nothing runs here, so a waiting searcher could never continue
                raise RuntimeError(f"searcher {study.name!r} waits with no trial running")
            assert isinstance(configs, list)
            for config in configs:
                study.started(config)
            for config, outcome in zip(configs, evaluate_trials(configs), strict=True):
                study.complete(TrialEvent(config, outcome.result, outcome.result.status, outcome.canonical))
