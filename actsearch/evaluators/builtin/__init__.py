"""The built-in tasks, one module per family; importing this package registers them all, in the
order ``actsearch tasks`` lists them (:mod:`actsearch.evaluators.registry`).

Each module declares its settings dataclasses (a comment on every field) and registers its
builders with ``@register_task``; builders import torch only when a task is built, so this
package stays light. Adding a task is one module here (named in ``MODULES``) plus its test.
"""

from __future__ import annotations

import importlib

MODULES = ("mnist1d", "digits", "cifar10", "toys", "digits_cnn")  # the order tasks are listed in

for _module in MODULES:
    importlib.import_module(f"{__name__}.{_module}")
