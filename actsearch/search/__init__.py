"""actsearch.search: spaces, searchers, screening, the loop and its executors (``loop``), the run
directory (``rundir``), Ray and shipping (``infra``), pipelines, and ``run_search`` (``api``)."""
