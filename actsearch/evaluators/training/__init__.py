"""Training child networks: one loop, three engines.

- :mod:`~actsearch.evaluators.training.loop`: the one training loop (``train``, ``train_classifier``):
  the members of an engine trained on a budget, failures recorded as results;
- :mod:`~actsearch.evaluators.training.engine`: the ``Engine`` interface the loop trains, and
  ``choose_engine``, the one place that picks which engine trains a pack;
- the three engines: :mod:`~actsearch.evaluators.training.single` (one network),
  :mod:`~actsearch.evaluators.training.stacked` (any network without batch norm, ``torch.func``
  vmapped) and :mod:`~actsearch.evaluators.training.stacked_mlp` (MLPs, differentiated by hand);
- :mod:`~actsearch.evaluators.training.packs`: packs, the seeds of one or more candidates built as
  members and trained as stacks;
- :mod:`~actsearch.evaluators.training.allocator`: the C allocator's settings for training processes.
"""
