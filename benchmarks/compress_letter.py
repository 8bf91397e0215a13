"""Compress a tuned LightGBM on Letter with ``lf.compress`` (student sizes + int8 / fp16) and print
the figures of the compression issue, each with its target, in one run.

1. Letter (bundled letterrecognition): first 16 000 rows train, last 4 000 test; the teacher is
   the distillation benchmark's tuned LightGBM (``distill_letter.tuned_teacher``: 3-fold CV over
   leaves x tree counts). ``lf.compress(..., techniques=[student, prune, int8_weights,
   int8_dynamic, int8_static, fp16], tolerance="2%")``: students of five sizes, each also pruned
   by half and fine-tuned on its transfer set (the chain), every network also quantized; the
   smallest candidate with >= 98 % of the best test accuracy. Printed: its size ratio and
   single-row latency ratio against the teacher (targets >= 500x smaller, >= 100x faster;
   published mark ~1 000x), and the int8 figures of the chosen network (its int8 form >= 3.5x
   smaller than its fp32 form for <= 0.5 points of accuracy; latency either way).
2. Small teachers: LightGBM tuned with tune_length 2 by 3-fold CV on a 6-class table of 4 000
   rows (3 000 train, 1 000 test); the chosen student must be >= 20x smaller (ONNX bytes) than
   the teacher with >= 98 % of its test accuracy. Two tables: 6 letters (A-F) of Letter (its
   first 4 000 such rows), and mlbench's Satellite (Landsat, 36 features, 6 classes; exported by
   Rscript from R's mlbench package into a temporary CSV; 4 000 rows drawn with a seeded
   shuffle).

Every candidate is measured the same way (ONNX Runtime, one thread, the same test rows and
repetitions), teacher included, so ratios are against a reference measured in the same run.

    python benchmarks/compress_letter.py [--epochs 30] [--single 5000] [--only letter|small]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from distill_letter import tuned_teacher  # noqa: E402  (the same teacher as distillation's)

QUANT = ("int8_weights", "int8_dynamic", "int8_static", "fp16")
TECHNIQUES = ["student", "prune", *QUANT]


def _line(name: str, value: float, op: str, target: float, unit: str = "") -> None:
    ok = value >= target if op == ">=" else value <= target
    print(
        f"  {name:<44} {value:10.4g}{unit}   {op} {target:g}{unit}   {'met' if ok else 'NOT MET'}"
    )


def _int8_figures(res: object, table: pd.DataFrame) -> None:
    """The int8 forms of the chosen network (or of the chosen one's fp32 form when the chosen
    is itself quantized) against that fp32 form."""
    chosen = table[table["chosen"]]
    if chosen.empty:
        print("  no candidate chosen: no int8 figure")
        return
    row = chosen.iloc[0]
    base = row["name"]
    for tech in QUANT:
        suffix = f" {tech}"
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    fp32 = table[table["name"] == base].iloc[0]
    print(
        f"  fp32 form: {base}: {int(fp32['size_bytes'])} bytes, accuracy "
        f"{fp32['Accuracy']:.4f}, p50 {fp32['p50_us']:.1f} µs"
    )
    for tech in QUANT:
        q = table[table["name"] == f"{base} {tech}"]
        if q.empty:
            continue
        q = q.iloc[0]
        smaller = fp32["size_bytes"] / q["size_bytes"]
        drop = 100 * (fp32["Accuracy"] - q["Accuracy"])
        speed = fp32["p50_us"] / q["p50_us"]
        print(
            f"  {tech}: {int(q['size_bytes'])} bytes, accuracy {q['Accuracy']:.4f}, "
            f"p50 {q['p50_us']:.1f} µs ({speed:.2f}x the fp32 speed; rows/s "
            f"{q['rows_per_s']:.3g} vs {fp32['rows_per_s']:.3g})"
        )
        if tech != "fp16":
            _line(f"{tech}: x smaller than fp32", smaller, ">=", 3.5)
            _line(f"{tech}: accuracy points lost", drop, "<=", 0.5)


def letter(args: argparse.Namespace) -> None:
    import leanfit as lf

    data = lf.datasets.load("letter")
    train, test = data.iloc[:16_000], data.iloc[16_000:]
    t0 = time.perf_counter()
    fit = tuned_teacher(train, args.seed)
    print(
        f"teacher: LightGBM tuned by 3-fold CV in {time.perf_counter() - t0:.0f} s; "
        f"{fit.best_params}"
    )
    t0 = time.perf_counter()
    sizes = [[32], [64], [128], [256], [128, 128]]
    res = lf.compress(
        fit,
        test,
        tolerance="2%",
        objective="size",
        techniques=TECHNIQUES,
        options={
            "student_sizes": sizes,
            "student_epochs": args.epochs,
            "student_prune_ratios": [0.5],
            "finetune_epochs": args.tune_epochs,
        },
        seed=args.seed,
        n_single=args.single,
        progress=True,
    )
    print(
        f"compress (students {sizes}, each pruned by half, quantization, measurement): "
        f"{time.perf_counter() - t0:.0f} s\n"
    )
    print(res)
    t = res.table
    teacher = t.iloc[0]
    print("\nLetter figures (teacher = the tuned LightGBM, measured in the same run)")
    if res.chosen is None:
        print("  nothing chosen within 2 % of the best accuracy")
    else:
        row = t[t["chosen"]].iloc[0]
        print(
            f"  chosen: {row['name']}: accuracy {row['Accuracy']:.4f} vs teacher "
            f"{teacher['Accuracy']:.4f}; {int(row['size_bytes'])} vs "
            f"{int(teacher['size_bytes'])} bytes; p50 {row['p50_us']:.1f} vs "
            f"{teacher['p50_us']:.1f} µs"
        )
        _line(
            "accuracy retained (chosen / teacher)",
            row["Accuracy"] / teacher["Accuracy"],
            ">=",
            0.98,
        )
        _line("x smaller than the teacher (ONNX bytes)", 1 / row["size_ratio"], ">=", 500)
        _line("x faster single-row (teacher p50 / chosen p50)", row["x_faster"], ">=", 100)
        print(
            f"  batch rows/s: chosen {row['rows_per_s']:.3g}, teacher "
            f"{teacher['rows_per_s']:.3g} ({row['rows_per_s'] / teacher['rows_per_s']:.0f}x)"
        )
    # the same table chosen for speed (objective="latency"): no new measurement
    from leanfit.compression.front import select

    fast = select(t, "Accuracy", True, "2%", "latency")
    if fast.index is not None:
        row = t.iloc[fast.index]
        print(f"  for speed (objective='latency'): {row['name']}: accuracy {row['Accuracy']:.4f}")
        _line("  x faster single-row (teacher / fastest)", row["x_faster"], ">=", 100)
        _line("  x smaller (fastest within tolerance)", 1 / row["size_ratio"], ">=", 500)
    print("\nint8 (the chosen network's quantized forms against its fp32 form)")
    _int8_figures(res, t)


def satellite() -> pd.DataFrame:
    """mlbench's Satellite (6 435 rows, 36 features, 6 classes), exported by Rscript."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "satellite.csv"
        code = (
            "suppressMessages(library(mlbench)); data(Satellite); "
            f"write.csv(Satellite, '{path}', row.names = FALSE)"
        )
        subprocess.run(["Rscript", "-e", code], check=True, capture_output=True)
        frame = pd.read_csv(path)
    frame.columns = [c.replace(".", "_") for c in frame.columns]
    frame["classes"] = frame["classes"].astype(str)
    return frame


def small_tables(seed: int) -> dict[str, tuple[pd.DataFrame, str]]:
    import leanfit as lf

    data = lf.datasets.load("letter")
    six = data[data["lettr"].isin(list("ABCDEF"))].iloc[:4_000].copy()
    six["lettr"] = six["lettr"].astype(str)
    sat = satellite().sample(n=4_000, random_state=seed).reset_index(drop=True)
    return {"6 letters of Letter": (six, "lettr"), "Satellite (mlbench)": (sat, "classes")}


def small_teacher(args: argparse.Namespace, label: str, table: pd.DataFrame, target: str) -> None:
    import leanfit as lf

    train, test = table.iloc[:3_000], table.iloc[3_000:]
    t0 = time.perf_counter()
    fit = lf.train(
        train,
        target,
        method="lightgbm",
        tune_length=2,
        control=lf.Control(method="cv", number=3, n_jobs=2),
        seed=args.seed,
    )
    print(
        f"\nsmall teacher, {label}: {table[target].nunique()} classes, {train.shape[1] - 1} "
        f"features, {len(train)} training / {len(test)} test rows; LightGBM tune_length 2, "
        f"3-fold CV in {time.perf_counter() - t0:.0f} s; {fit.best_params}"
    )
    res = lf.compress(
        fit,
        test,
        tolerance="2%",
        techniques=TECHNIQUES,
        options={
            "student_sizes": [[16], [64], [128], [256]],
            "student_epochs": args.epochs,
            "student_prune_ratios": [0.5],
            "finetune_epochs": args.tune_epochs,
        },
        seed=args.seed,
        n_single=args.single,
    )
    print(res)
    t = res.table
    teacher = t.iloc[0]
    print(f"\nsmall-teacher figures, {label}")
    if res.chosen is None:
        print("  nothing chosen within 2 % of the best accuracy")
        return
    row = t[t["chosen"]].iloc[0]
    print(
        f"  chosen: {row['name']}: accuracy {row['Accuracy']:.4f} vs teacher "
        f"{teacher['Accuracy']:.4f}; {int(row['size_bytes'])} vs {int(teacher['size_bytes'])} "
        f"bytes; p50 {row['p50_us']:.1f} vs {teacher['p50_us']:.1f} µs"
    )
    _line("accuracy retained (chosen / teacher)", row["Accuracy"] / teacher["Accuracy"], ">=", 0.98)
    _line("x smaller than the teacher (ONNX bytes)", 1 / row["size_ratio"], ">=", 20)
    students = t[t["technique"] == "student"]
    best_fp32 = students.loc[students["Accuracy"].idxmax()]
    print(
        f"  most accurate fp32 student: {best_fp32['name']} {best_fp32['Accuracy']:.4f}, "
        f"{1 / best_fp32['size_ratio']:.1f}x smaller"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument(
        "--tune-epochs", type=int, default=5, help="fine-tuning epochs of the pruned students"
    )
    parser.add_argument("--single", type=int, default=5_000, help="single-row calls timed")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", choices=["letter", "small"], default=None)
    parser.add_argument(
        "--tables", default="all", help="small teachers: 'all', 'letter' or 'satellite'"
    )
    args = parser.parse_args()
    np.set_printoptions(linewidth=140)
    pd.set_option("display.width", 200)
    t0 = time.perf_counter()
    print(f"{os.cpu_count()} cores; one thread per measured model; load {os.getloadavg()}")
    if args.only in (None, "letter"):
        letter(args)
    if args.only in (None, "small"):
        for label, (table, target) in small_tables(args.seed).items():
            if args.tables == "all" or args.tables.lower() in label.lower():
                small_teacher(args, label, table, target)
    print(f"\nwhole benchmark: {(time.perf_counter() - t0) / 60:.1f} min")


if __name__ == "__main__":
    main()
