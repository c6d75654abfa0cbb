"""Pipelines: named, resumable lists of phases over one run store (``actsearch search --preset``).

- :mod:`~actsearch.search.pipelines.base`: the :class:`Pipeline` protocol, the registry
  (:func:`register_pipeline`, the ``actsearch.pipelines`` entry-point group) and
  :func:`run_pipeline`, the skeleton every pipeline runs in;
- :mod:`~actsearch.search.pipelines.phases`: the phases they share (a search, successive halving,
  re-scoring, the verdict on fresh seeds), each a Study over the run's store;
- :mod:`~actsearch.search.pipelines.wallclock`: the one wall-clock estimator behind every budget;
- one module per pipeline: :mod:`~actsearch.search.pipelines.rediscover` (``rediscover``,
  ``rediscover-smoke``), :mod:`~actsearch.search.pipelines.discover` (``discover``,
  ``discover-smoke``).
"""

from actsearch.search.pipelines.base import (
    Pipeline,
    PipelineError,
    PipelineRun,
    get_pipeline,
    pipeline_names,
    register_pipeline,
    run_pipeline,
)
from actsearch.search.pipelines.phases import STATE, VERDICT

__all__ = ["STATE", "VERDICT", "Pipeline", "PipelineError", "PipelineRun", "get_pipeline", "pipeline_names",
           "register_pipeline", "run_pipeline"]
