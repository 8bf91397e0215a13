"""rf's engines against caret's randomForest on larger tables: the whole workflow (one 80/20
split, scored, then the final fit on all rows, as caret's ``train`` does) on Letter (20 000 rows,
26 classes) and a 100 000-row synthetic table (scikit-learn's make_classification), at caret's
default classification mtry (floor(sqrt(p))) and 500 trees.

Both sides get the same rows: the split's training rows are written out and passed to caret as
its ``index``. Prints each engine's seconds (median of ``--repeats``), held-out accuracy, and the
ratio caret's seconds / leanfit's (target: >= 3x, accuracy within 0.005 of caret's).

    python benchmarks/rf_scale.py [--repeats 1] [--rows 100000] [--only letter|synthetic]
                                  [--engines sklearn,sklearnex]
Needs Rscript with caret and randomForest for the reference column (r-cran-caret,
r-cran-randomforest); the sklearnex engine needs the fast-rf extra.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ENGINES = ("sklearn", "sklearnex")


def _tables(rows: int, only: str | None) -> dict[str, pd.DataFrame]:
    """Letter (target renamed y) and the synthetic table, predictors x1..xp."""
    import leanfit as lf

    out = {}
    if only in (None, "letter"):
        letter = lf.datasets.load("letter")
        out["letter"] = letter.rename(columns={"lettr": "y"})
    if only in (None, "synthetic"):
        from sklearn.datasets import make_classification

        X, y = make_classification(
            rows, 20, n_informative=10, n_redundant=4, n_classes=4, class_sep=0.8,
            random_state=1,
        )  # fmt: skip
        frame = pd.DataFrame(X, columns=[f"x{i + 1}" for i in range(X.shape[1])])
        out["synthetic"] = frame.assign(y=np.array(list("ABCD"))[y])
    return out


def _leanfit(data: pd.DataFrame, train_rows: np.ndarray, engine: str, mtry: int, ntree: int):
    import leanfit as lf
    from leanfit.models.base import get_model

    model = type(get_model("rf"))(options={"engine": engine, "n_trees": ntree})
    ctl = lf.Control(method="lgocv", index=[train_rows.tolist()], n_jobs=1)
    t0 = time.perf_counter()
    res = lf.train("y ~ .", data=data, method=model, grid={"mtry": [mtry]}, control=ctl, seed=1)
    return time.perf_counter() - t0, float(res.results["Accuracy"].iloc[0])


def _caret(csv: Path, rows_file: Path, mtry: int, ntree: int, repeats: int):
    if shutil.which("Rscript") is None:
        return None
    script = HERE / "reference" / "rf_scale.R"
    args = [str(csv), str(rows_file), str(mtry), str(ntree), str(repeats)]
    run = subprocess.run(["Rscript", str(script), *args], capture_output=True, text=True)
    found = [line.split()[1:] for line in run.stdout.splitlines() if line.startswith("R_CARET ")]
    if not found:
        print(run.stderr[-2000:])
        return None
    return statistics.median(float(t) for t, _ in found), float(found[0][1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--rows", type=int, default=100_000, help="rows of the synthetic table")
    ap.add_argument("--ntree", type=int, default=500)
    ap.add_argument("--only", choices=["letter", "synthetic"], default=None)
    ap.add_argument(
        "--engines", default=",".join(ENGINES), help="comma-separated leanfit engines to run"
    )
    args = ap.parse_args()
    print(
        f"caret's rf workflow (one 80/20 split + the final fit, {args.ntree} trees): seconds "
        f"(median of {args.repeats}), held-out accuracy, caret's seconds / leanfit's"
    )
    for name, data in _tables(args.rows, args.only).items():
        n, p = data.shape[0], data.shape[1] - 1
        mtry = int(np.floor(np.sqrt(p)))
        rng = np.random.default_rng(1)
        train_rows = np.sort(rng.permutation(n)[: int(0.8 * n)])
        with tempfile.TemporaryDirectory(prefix="rf-scale-") as tmp:
            csv, rows_file = Path(tmp) / "data.csv", Path(tmp) / "rows.txt"
            data.to_csv(csv, index=False)
            np.savetxt(rows_file, train_rows, fmt="%d")
            results = {"caret randomForest (R)": _caret(csv, rows_file, mtry, args.ntree,
                                                        args.repeats)}  # fmt: skip
        for engine in args.engines.split(","):
            runs = [_leanfit(data, train_rows, engine, mtry, args.ntree)
                    for _ in range(args.repeats)]  # fmt: skip
            results[f"leanfit rf, engine={engine}"] = (
                statistics.median(t for t, _ in runs),
                runs[0][1],
            )
        print(f"\n{name} ({n} x {p}, {data['y'].nunique()} classes), mtry {mtry}")
        ref = results["caret randomForest (R)"]
        for label, got in results.items():
            if got is None:
                print(f"  {label:<30} (not available here)")
                continue
            secs, acc = got
            ratio = "" if ref is None else f"  {ref[0] / secs:5.2f}x  acc diff {acc - ref[1]:+.4f}"
            print(f"  {label:<30} {secs:9.1f} s  accuracy {acc:.4f}{ratio}")


if __name__ == "__main__":
    main()
