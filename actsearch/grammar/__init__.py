"""The activation expression language: parse text, fingerprint, canonicalise, compile to torch.

``parse(text, **params) -> Activation`` is the entry point; see :mod:`.activation`.
Submodules: ``activation.lark`` (the grammar), :mod:`.functions` (the table of the language's
operations, one record each), :mod:`.parse` (text → tree), :mod:`.nodes` (the tree, printer,
float64 evaluator), :mod:`.primitives` (the unit table), :mod:`.fingerprint`,
:mod:`.canonical`, :mod:`.symbolic` (sympy), :mod:`.compile` (torch), :mod:`.properties`,
:mod:`.library` (named activations).
"""

from actsearch.grammar.activation import Activation, parse
from actsearch.grammar.parse import ExpressionError

__all__ = ["Activation", "ExpressionError", "parse"]
