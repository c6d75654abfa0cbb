"""Would halving pay in ``discover``'s search phase? A replay on the panel mnist1d-cnn + mnist1d-resnet-ln.

    python benchmarks/bench_panel_rungs.py runs/rungs-mnist1d-cnn \\
        --second benchmarks/data/x-gated-mnist1d-resnet-ln.csv --references runs/discover

On a panel every member gets the ``checkpoints`` halving asks for (9) and the rungs fall on the
panel's iterations 1 and 3 (``halving.Ladder(9)``): the first member's checkpoints 1 and 3, 1/9 and
1/3 of the CNN's steps, each as the CNN's z. A candidate cut there never trains the second member. This
replays the x-gated functions through the product's ASHA rule (``bench_rungs.simulate``): the rung
scores are the CNN rung run's stored checkpoints (``--set checkpoints=9``: a z at one checkpoint is
an increasing function of the score there, so the cuts are the same); the final score is the
panel's, the mean of the CNN's final z and the ResNet's z (its one-seed table; a function that failed
on either fails), with ReLU's references as the discover run stored them. Cost weighs each member by
its measured cost a seed (``cost_a_seed``: cnn 1.5, resnet-ln 0.93 mnist1d seeds). It reports what
the search phase would train (as a fraction of training every candidate in full) and how many of the
panel's top 10 finish, in the run's order and over shuffled orders. No training.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import harness
from bench_rungs import Curve, curves, policies

sys.path.insert(0, str(harness.REPO))

import actsearch  # noqa: E402
from actsearch.evaluators import registry  # noqa: E402
from actsearch.results.records import Role  # noqa: E402
from actsearch.results.store import open_store  # noqa: E402

FIRST, SECOND = "mnist1d-cnn", "mnist1d-resnet-ln"
PER_MEMBER = 9  # the checkpoints halving gives each member; the rungs are the first member's 1 and 3


def references(run_dir: Path) -> dict[str, tuple[float, float]]:
    """member -> (ReLU mean, sd) as a discover run's search panel stored them."""
    store = open_store(run_dir, readonly=True)
    try:
        row = next(r for r in store.candidates(include_pending=False)
                   if r.task.startswith(f"panel:{FIRST},{SECOND}") and r.role == Role.SEARCH and r.runs)
    finally:
        store.close()
    metrics = row.runs[0]["metrics"]
    return {m: (metrics[f"panel.ref_mean/{m}"], metrics[f"panel.ref_sd/{m}"]) for m in (FIRST, SECOND)}


def second_scores(path: Path) -> dict[str, float | None]:
    """fingerprint -> the second member's score (None: it failed there)."""
    with open(path, newline="") as f:
        return {r["fingerprint"]: float(r["score"]) if r["status"] == "ok" else None for r in csv.DictReader(f)}


def panel_curves(run_dir: Path, second: Path, refs: dict[str, tuple[float, float]],
                 min_sd: float = 0.005) -> list[Curve]:
    """The CNN run's curves with the panel's final score (mean z); the checkpoints stay the CNN's."""
    def z(member: str, score: float) -> float:
        mean, sd = refs[member]
        return (score - mean) / max(sd, min_sd)

    other = second_scores(second)
    out = []
    for c in curves(run_dir)[0]:
        s2 = other.get(actsearch.parse(c.expression).fingerprint)
        final = None if c.final is None or s2 is None else (z(FIRST, c.final) + z(SECOND, s2)) / 2
        out.append(Curve(c.expression, c.trial, c.checkpoints, final, c.diverged_at))
    return out


def main() -> None:
    ap = harness.parser(__doc__, "panel_rungs")
    ap.add_argument("run", type=Path, help="the first member's run trained with --set checkpoints=9")
    ap.add_argument("--second", type=Path, default=harness.REPO / "benchmarks/data/x-gated-mnist1d-resnet-ln.csv")
    ap.add_argument("--references", type=Path, required=True, help="a discover run directory (ReLU's references)")
    ap.add_argument("--shuffles", type=int, default=200)
    ap.add_argument("--top", type=int, default=10)
    args = ap.parse_args()
    refs = references(args.references)
    cs = panel_curves(args.run, args.second, refs)
    cost = {t: registry.entry(t).cost_a_seed for t in (FIRST, SECOND)}

    def weight(c: Curve, reached: float) -> float:
        """A seed of the panel: the CNN to ``reached`` of its steps, the ResNet only if it finished."""
        return cost[FIRST] * reached + (cost[SECOND] if reached >= 1.0 and c.final is not None else 0.0)

    pol = policies(cs, PER_MEMBER, [1, 3], 3, 9, 1, 2, args.top, args.shuffles, weight)
    a = pol["asha"]
    print(f"{len(cs)} functions, {sum(c.final is not None for c in cs)} finished on both members; references {refs}")
    print(f"asha, rungs at the CNN's 1/9 and 1/3: run order {a['run_order']['fraction_of_full']} of full, "
          f"top {args.top} finishing {a['run_order'][f'top{args.top}_finish']}; shuffled median "
          f"{a['shuffled']['fraction_of_full_median']}, top {args.top} finishing median "
          f"{a['shuffled'][f'top{args.top}_finish_median']} (min {a['shuffled'][f'top{args.top}_finish_min']})")
    harness.save(args.out, {"run": str(args.run), "second": str(args.second), "references": refs, "costs": cost,
                            "rungs_of_first_member": [1, 3], "functions": len(cs), "policies": pol}, args)


if __name__ == "__main__":
    main()
