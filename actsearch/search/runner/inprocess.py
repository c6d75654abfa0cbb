"""The in-process executor: runs a study's trials one at a time in this process (tests, replays,
the Python API, ``--workers 1`` runs that need no Ray)."""

from __future__ import annotations

from actsearch.search.runner.study import Study
from actsearch.search.runner.trials import TrialConfig, TrialEvent, evaluate_trial
from actsearch.search.searchers.base import FINISHED, WAIT


class InProcessExecutor:
    """Serial executor: ``run(study)`` until the study is finished; returns whether it was interrupted."""

    name = "in-process"

    def run(self, study: Study) -> bool:
        while True:
            config = study.next_trial()
            if config is FINISHED:
                return False
            if config is WAIT:  # nothing runs here, so a waiting searcher could never continue
                raise RuntimeError(f"searcher {study.name!r} waits with no trial running")
            assert isinstance(config, TrialConfig)
            study.started(config)
            outcome = evaluate_trial(config)
            study.complete(TrialEvent(config, outcome.result, outcome.result.status, outcome.canonical))
