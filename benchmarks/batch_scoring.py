"""Batch scoring with a bundle (issue 19): a 500-tree binary LightGBM on synthetic data with 30
numeric columns, bundled, then ``leanfit predict`` on Parquet files of --rows rows (default 1M
and 4M) in a fresh process each: rows per minute per core and peak memory.

The model is fitted on 20 000 rows; the scoring files are written in chunks (the generator never
holds them whole). Each ``leanfit predict`` runs with one ONNX Runtime thread; the figure per
core is rows / CPU-minutes of that process (user + system, every thread), and wall-clock rows
per minute are shown beside it. Peak RSS is the scoring process's maximum resident set: flat in
the number of rows when the chunking works. Targets: >= 1 000 000 rows/min/core; peak RSS at
4M within 10 % of 1M.

The Letter teacher is reported beside it: LightGBM with 26 classes x 600 trees (the grid row of
benchmarks/distill_letter.py's tuning with 600 trees, fitted once on the 20 000 Letter rows, no
resampling), bundled and scored the same way on --letter-rows rows resampled from Letter.

    python benchmarks/batch_scoring.py [--rows 1000000 4000000] [--letter-rows 200000]
        [--only binary|letter] [--chunk-rows 50000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

N_COLS, N_TRAIN, N_TREES = 30, 20_000, 500
LETTER_TREES = 600  # per class: 26 x 600 trees
TARGET_PER_CORE = 1_000_000

CHILD = r"""
import json, resource, subprocess, sys, time
t0 = time.perf_counter()
p = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": p.returncode, "wall": wall, "cpu": ru.ru_utime + ru.ru_stime,
                  "maxrss_kb": ru.ru_maxrss, "out": p.stdout[-500:], "err": p.stderr[-2000:]}))
"""


def synthetic(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """30 numeric columns; a binary class from a non-linear score of ten of them."""
    X = rng.normal(size=(n, N_COLS)).astype(np.float32)
    score = X[:, 0] * X[:, 1] + np.sin(2 * X[:, 2]) + X[:, 3:10].sum(axis=1) * 0.3
    y = np.where(score + rng.normal(scale=0.5, size=n) > 0, "yes", "no")
    frame = pd.DataFrame(X, columns=[f"x{j:02d}" for j in range(N_COLS)])
    frame["y"] = y
    return frame


def write_rows(path: Path, n: int, seed: int, chunk: int = 500_000) -> None:
    """``n`` rows of predictors to Parquet, chunk by chunk."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    writer = None
    done = 0
    while done < n:
        m = min(chunk, n - done)
        table = pa.Table.from_pandas(synthetic(m, rng).drop(columns="y"), preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
        done += m
    assert writer is not None
    writer.close()


def write_letter_rows(path: Path, letter: pd.DataFrame, n: int, seed: int) -> None:
    """``n`` Letter predictor rows resampled with replacement, to Parquet chunk by chunk."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    X = letter.drop(columns="lettr").reset_index(drop=True)
    writer = None
    for start in range(0, n, 500_000):
        idx = rng.integers(0, len(X), size=min(500_000, n - start))
        table = pa.Table.from_pandas(X.iloc[idx], preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()


def score(bundle: Path, src: Path, out: Path, n: int, chunk_rows: int) -> tuple[float, ...]:
    """``leanfit predict`` on ``src`` in a fresh process: (rows/min/core, rows/min wall, MB)."""
    cmd = [
        sys.executable, "-m", "leanfit.cli", "predict", str(bundle), str(src),
        "-o", str(out), "--chunk-rows", str(chunk_rows), "-q",
    ]  # fmt: skip
    res = json.loads(subprocess.run(
        [sys.executable, "-c", CHILD, *cmd], capture_output=True, text=True, check=True
    ).stdout)  # fmt: skip
    if res["rc"] != 0:
        raise SystemExit(f"leanfit predict failed: {res['err']}")
    per_core = n / (res["cpu"] / 60)
    wall = n / (res["wall"] / 60)
    rss = res["maxrss_kb"] / 1024
    print(
        f"{n:>10,} rows: {res['wall']:.1f} s wall, {res['cpu']:.1f} s CPU -> "
        f"{per_core:,.0f} rows/min/core ({wall:,.0f} rows/min wall); peak RSS {rss:,.0f} MB"
        f"  [{res['out'].strip()}]"
    )
    return per_core, wall, rss


def binary(args: argparse.Namespace, tmp: Path) -> None:
    """The 500-tree binary LightGBM on synthetic rows at each of --rows."""
    import leanfit as lf

    train = synthetic(N_TRAIN, np.random.default_rng(0))
    t0 = time.perf_counter()
    fit = lf.train(
        "y ~ .",
        data=train,
        method="lightgbm",
        grid=lf.expand_grid(n_estimators=N_TREES, num_leaves=31),
        control=lf.Control(method="none"),
        seed=1,
    )
    bundle = lf.save_bundle(fit, tmp / "lgb500.lfb")
    b = lf.load_bundle(bundle)
    print(
        f"fitted and bundled {N_TREES}-tree LightGBM on {N_TRAIN:,} x {N_COLS} in "
        f"{time.perf_counter() - t0:.1f} s: runtime {b.runtime} ({b.info.get('onnx_inputs')}), "
        f"{bundle.stat().st_size / 1e6:.1f} MB"
    )
    results = []
    for n in args.rows:
        src, out = tmp / f"rows{n}.parquet", tmp / f"scored{n}.parquet"
        write_rows(src, n, seed=n)
        results.append((n, *score(bundle, src, out, n, args.chunk_rows)))
        src.unlink()
        out.unlink()
    worst = min(r[1] for r in results)
    print(
        f"\nfigure: {worst:,.0f} rows/min/core (lowest of the sizes)   target: >= "
        f"{TARGET_PER_CORE:,}   {'MET' if worst >= TARGET_PER_CORE else 'NOT MET'}"
    )
    if len(results) > 1:
        lo, hi = results[0], results[-1]
        growth = hi[3] / lo[3] - 1
        print(
            f"figure: peak RSS {lo[3]:,.0f} MB at {lo[0]:,} rows, {hi[3]:,.0f} MB at {hi[0]:,} "
            f"rows ({growth:+.1%})   target: flat (within 10 %)   "
            f"{'MET' if growth <= 0.10 else 'NOT MET'}"
        )


def letter(args: argparse.Namespace, tmp: Path) -> None:
    """The Letter teacher (26 classes x 600 trees) bundled and scored on resampled rows."""
    import leanfit as lf

    data = lf.datasets.load("letter")
    t0 = time.perf_counter()
    fit = lf.train(
        data,
        "lettr",
        method="lightgbm",
        grid=lf.expand_grid(
            n_estimators=LETTER_TREES, num_leaves=31, learning_rate=0.1, min_child_samples=10
        ),
        control=lf.Control(method="none", n_jobs=1),
        seed=1,
    )
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    bundle = lf.save_bundle(fit, tmp / "letter600.lfb")
    b = lf.load_bundle(bundle)
    print(
        f"\nLetter teacher: LightGBM 26 classes x {LETTER_TREES} trees fitted on {len(data):,} "
        f"rows in {fit_s:.0f} s, bundled in {time.perf_counter() - t0:.0f} s: runtime "
        f"{b.runtime}, {bundle.stat().st_size / 1e6:.1f} MB"
    )
    n = args.letter_rows
    src, out = tmp / f"letter{n}.parquet", tmp / f"letter-scored{n}.parquet"
    write_letter_rows(src, data, n, seed=n)
    per_core, _wall, rss = score(bundle, src, out, n, args.chunk_rows)
    print(
        f"figure: Letter teacher {per_core:,.0f} rows/min/core, peak RSS {rss:,.0f} MB on "
        f"{n:,} rows   (reported; no target)"
    )
    src.unlink()
    out.unlink()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 4_000_000])
    ap.add_argument("--letter-rows", type=int, default=200_000)
    ap.add_argument("--only", choices=["binary", "letter"], default=None)
    ap.add_argument("--chunk-rows", type=int, default=50_000)
    ap.add_argument("--keep", default=None, help="folder for the bundle and files (default tmp)")
    args = ap.parse_args()
    if args.letter_rows < 1:
        raise SystemExit(f"--letter-rows must be >= 1, got {args.letter_rows}")

    tmp = Path(args.keep or tempfile.mkdtemp(prefix="leanfit-batch-"))
    tmp.mkdir(parents=True, exist_ok=True)
    if args.only != "letter":
        binary(args, tmp)
    if args.only != "binary":
        letter(args, tmp)
    print("note: wall-clock figures; on a shared machine, run it when the cores are idle")


if __name__ == "__main__":
    main()
