"""What the tests share, importable as ``tests.helpers.NAME`` from every test directory: tiny task
budgets and toy tasks (``evaluators``), user task functions (``usertasks``), a searcher loop without
a store (``loop``), the contract suite's score function (``scoring``), generated run stores
(``stores``), the CLI in a subprocess (``cli``), kill points for the resume tests (``kill``),
loopback Ray clusters (``cluster``) and hypothesis strategies of expression trees (``strategies``)."""
