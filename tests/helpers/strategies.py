"""Hypothesis strategies for random expression trees (shared by the grammar tests)."""

from __future__ import annotations

from hypothesis import strategies as st

UNARY = ["neg", "abs", "exp", "log", "sqrt", "sin", "cos", "tanh", "atan", "asinh", "sinc", "erf",
         "sigmoid", "softplus", "relu", "sinh", "cosh"]  # fmt: skip
BINARY = ["add", "sub", "mul", "div", "pow", "max", "min"]

leaves = st.one_of(
    st.just(("x",)),
    st.just(("x",)),
    st.sampled_from([0.5, 1.0, 2.0, 3.0, 0.25, 1.5]).map(lambda v: ("num", v)),
    st.sampled_from(["beta", "gamma", "alpha_1"]).map(lambda n: ("param", n)),
)


def _extend(children: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(
        st.tuples(st.sampled_from(UNARY), children),
        st.tuples(st.sampled_from(BINARY), children, children),
    )


trees = st.recursive(leaves, _extend, max_leaves=8)
