"""Running a search: its spec and run directory (``spec``), the one loop (``study``), the typed
trials between loop and executors (``trials``), the executors (``inprocess``, ``ray_tune``), the Ray
connection (``cluster``) and multi-phase pipelines (``pipelines``)."""
