"""Drift figures (issue 19): lf.monitor on 1 M rows x 50 columns (target <= 10 s and <= 1 GB of
memory beyond the two input frames), and agreement of the per-column drift flags with
Evidently's defaults (target >= 99 % of columns) when Evidently is installed
(`pip install -c constraints.txt -e '.[bench]'`; never a run-time dependency).

    python benchmarks/drift.py [--rows 1000000] [--columns 50] [--agreement-columns 400]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
import pandas as pd

import leanfit as lf


def frames(
    rows: int, columns: int, seed: int, n_ref: int | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and current frames: 80 % float columns (normal, lognormal, few values), 20 %
    categorical (strings, small integers), each current column shifted by a varied amount."""
    rng = np.random.default_rng(seed)
    n_ref = n_ref or rows
    ref, cur = {}, {}
    for j in range(columns):
        shift = rng.choice([0.0, 0.0, 0.02, 0.05, 0.08, 0.1, 0.12, 0.2, 0.5])
        kind = j % 10
        name = f"c{j:03d}"
        if kind < 5:
            ref[name] = rng.normal(size=n_ref)
            cur[name] = rng.normal(shift, 1 + shift / 2, size=rows)
        elif kind < 7:
            ref[name] = rng.lognormal(size=n_ref)
            cur[name] = rng.lognormal(shift, 1, size=rows)
        elif kind == 7:
            ref[name] = rng.integers(0, 4, n_ref).astype(float)
            cur[name] = np.where(
                rng.uniform(size=rows) < shift, 3.0, rng.integers(0, 4, rows).astype(float)
            )
        elif kind == 8:
            levels = np.array(list("abcdefg"))
            p = np.full(7, 1 / 7)
            q = p.copy()
            q[0] += shift / 2
            q /= q.sum()
            ref[name] = levels[rng.choice(7, n_ref, p=p)]
            cur[name] = levels[rng.choice(7, rows, p=q)]
        else:
            ref[name] = rng.integers(0, 2 + j % 5, n_ref)
            cur[name] = np.where(
                rng.uniform(size=rows) < shift, 0, rng.integers(0, 2 + j % 5, rows)
            )
    return pd.DataFrame(ref), pd.DataFrame(cur)


def evidently_flags(ref: pd.DataFrame, cur: pd.DataFrame) -> dict[str, bool]:
    """Evidently's per-column drift flags with its defaults (ValueDrift, types inferred)."""
    import pandas.core.dtypes.common as common

    # Evidently 0.7.23 imports a helper pandas 3 removed; it is unused on this path.
    if not hasattr(common, "infer_dtype_from_object"):
        common.infer_dtype_from_object = lambda x: x  # type: ignore[attr-defined]
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift

    snap = Report([ValueDrift(column=c) for c in ref.columns]).run(
        Dataset.from_pandas(cur, data_definition=DataDefinition()),
        Dataset.from_pandas(ref, data_definition=DataDefinition()),
    )
    flags = {}
    for m, col in zip(snap.dict()["metrics"], ref.columns, strict=True):
        method, thr, value = m["config"]["method"], m["config"]["threshold"], m["value"]
        if "p_value" in method:
            flags[col] = value <= thr if method.startswith("K-S") else value < thr
        else:
            flags[col] = value >= thr
    return flags


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--columns", type=int, default=50)
    ap.add_argument("--agreement-columns", type=int, default=400)
    ap.add_argument("--no-evidently", action="store_true", help="skip the agreement check")
    args = ap.parse_args()

    ref, cur = frames(args.rows, args.columns, seed=0)
    lf.monitor(ref.iloc[:2000], cur.iloc[:2000])  # warm-up: imports not timed
    t = time.perf_counter()
    res = lf.monitor(ref, cur)
    took = time.perf_counter() - t
    # Memory in a second run: tracemalloc slows every allocation, so it is not timed.
    tracemalloc.start()
    lf.monitor(ref, cur)
    peak = tracemalloc.get_traced_memory()[1] / 2**30
    tracemalloc.stop()
    inputs = (ref.memory_usage(deep=True).sum() + cur.memory_usage(deep=True).sum()) / 2**30
    print(
        f"lf.monitor {args.rows:,} x {args.columns}: {took:.2f} s (target <= 10 s), "
        f"peak memory beyond the inputs ({inputs:.2f} GiB) {peak:.2f} GiB (target <= 1 GiB); "
        f"{res.n_drifted} drifted, tests {res.columns['test'].value_counts().to_dict()}"
    )

    if args.no_evidently:
        return
    try:
        evidently_flags(ref.iloc[:10, :1], cur.iloc[:10, :1])
    except ImportError:
        print("evidently not installed: agreement not measured")
        return
    agree = total = 0
    for n_ref, n_cur in ((500, 400), (800, 1200), (3000, 2000), (20000, 20000)):
        r, c = frames(n_cur, args.agreement_columns // 4, seed=n_ref, n_ref=n_ref)
        ours = lf.monitor(r, c).columns.set_index("column")["drifted"]
        t = time.perf_counter()
        theirs = evidently_flags(r, c)
        ev_took = time.perf_counter() - t
        same = sum(bool(ours[k]) == v for k, v in theirs.items())
        print(
            f"  {n_ref} reference rows: {same}/{len(theirs)} columns agree "
            f"(Evidently {ev_took:.1f} s)"
        )
        agree += same
        total += len(theirs)
    print(f"agreement with Evidently: {agree}/{total} = {agree / total:.1%} (target >= 99 %)")


if __name__ == "__main__":
    main()
