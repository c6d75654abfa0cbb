"""The loop core: the one loop (``study``: a Study asks the searcher, classifies proposals and
records outcomes), the typed trials between the loop and its executors (``trials``), and the
executors (``inprocess``, ``ray_tune``; ``replay``: the sequential loop of the benchmarks)."""
