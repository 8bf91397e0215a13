"""Sub-model reuse (caret's ``loop``), measured per model: fits per resample and wall time with the
trick against the same grid with every candidate fitted separately (issue 3 figures).

The "separate" run uses the same model class with its sub-model axis switched off, so the only
difference is how many fits are made; results are identical for deterministic models (the
largest accuracy difference is printed).

    python benchmarks/submodel_reuse.py [--repeats 3] [--only knn glmnet]

After the glmnet row come glmnet's own path-against-separate ratios on the same grid: its Fortran
called from Python (python-glmnet, the ``glmnet`` extra) and, with Rscript on the PATH (glmnet,
mlbench, caret), R's glmnet (benchmarks/reference/glmnet_path.R).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np


def _cases():
    import leanfit as lf

    return [
        ("knn", "k over 10 values", {"k": list(range(5, 25, 2))}, 5.0),
        (
            "glmnet",
            "lambda path over 20 values",
            {"alpha": [0.5], "lambda": list(np.geomspace(0.3, 0.001, 20))},
            5.0,
        ),
        ("rpart", "cp path over 10 values", {"cp": list(np.geomspace(0.2, 0.001, 10))}, 3.0),
        (
            "gbm",
            "n_trees over 30 values (the seed's grid, one depth)",
            lf.expand_grid(
                interaction_depth=[5], n_trees=range(50, 1501, 50), shrinkage=0.1, n_minobsinnode=20
            ),
            None,
        ),
        ("pls", "ncomp over 10 values", {"ncomp": list(range(1, 11))}, None),
    ]


def _separate(cls):
    """The same model with its sub-model axis off: one fit per candidate, each scoring itself."""
    axis = cls.submodel

    class Separate(cls):
        submodel = ()

        def fit(self, data, params, subs, seed):
            sub = {p: params[p] for p in axis}
            return super().fit(data, params, [sub], seed), sub

        def predict(self, fitted, X, subs):
            return super().predict(fitted[0], X, [fitted[1]] * len(subs))

        def predict_proba(self, fitted, X, subs):
            return super().predict_proba(fitted[0], X, [fitted[1]] * len(subs))

    return Separate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", nargs="*", metavar="MODEL", help="measure only these models")
    args = ap.parse_args()
    import leanfit as lf
    from leanfit.models.base import registry
    from leanfit.tuning.train import plan_train, run_plan

    sonar = lf.datasets.load("sonar")
    ctl = lf.Control(method="cv", number=10, seed=1)
    print(f"Sonar, 10-fold CV, serial (n_jobs=1), median of {args.repeats}")
    print(
        f"{'model':<8}{'grid':<48}{'fits/res':>9}{'separate':>9}{'trick s':>9}"
        f"{'separate s':>11}{'speed-up':>9}{'target':>8}  same results"
    )
    for name, what, grid, target in _cases():
        if args.only and name not in args.only:
            continue
        if name not in registry():
            print(f"{name:<8}(not in this build's model library)")
            continue
        cls = registry()[name]
        flat = _separate(cls)
        timings, fits, tables = {}, {}, {}
        for label, model in (("trick", cls()), ("separate", flat())):
            ts = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                plan = plan_train("Class ~ .", data=sonar, method=model, control=ctl, grid=grid)
                res = run_plan(plan, t0)
                ts.append(res.times["resampling"])
            timings[label] = statistics.median(ts)
            fits[label] = plan.fits_per_resample
            tables[label] = res.results
        same = np.allclose(
            tables["trick"]["Accuracy"], tables["separate"]["Accuracy"], atol=1e-12, equal_nan=True
        )
        ratio = timings["separate"] / timings["trick"]
        tgt = f">= {target:.0f}x" if target else "-"
        print(
            f"{name:<8}{what:<48}{fits['trick']:>9}{fits['separate']:>9}"
            f"{timings['trick']:>9.3f}{timings['separate']:>11.3f}{ratio:>8.1f}x{tgt:>8}  "
            f"{same}"
        )
        if name == "glmnet":
            _python_glmnet_reference(sonar, grid["lambda"], args.repeats)
            _r_glmnet_reference(args.repeats)


def _python_glmnet_reference(sonar, lambdas: list[float], repeats: int) -> None:
    """glmnet's own Fortran called from Python (python-glmnet's LogitNet, the ``glmnet`` extra):
    one path against separate single-lambda fits on the same 10 folds, engine calls only."""
    try:
        from glmnet import LogitNet
    except ImportError:
        print("  (no python-glmnet: pip install 'leanfit[glmnet]' to measure its path ratio)")
        return
    import warnings

    import leanfit as lf

    X = sonar.drop(columns="Class").to_numpy(float)
    y = sonar["Class"].to_numpy()
    folds = lf.kfold(y, k=10, seed=1).train
    path = np.sort(np.asarray(lambdas, dtype=float))[::-1]

    def fit(rows, lam):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            LogitNet(alpha=0.5, lambda_path=lam, n_splits=0, tol=1e-7).fit(X[rows], y[rows])

    def timed(fn) -> float:
        runs = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - t0)
        return statistics.median(runs)

    one = timed(lambda: [fit(rows, path) for rows in folds])
    each = timed(lambda: [fit(rows, path[i : i + 1]) for rows in folds for i in range(len(path))])
    print(
        f"{'  py':<8}{'glmnet Fortran from Python (python-glmnet)':<48}{1:>9}{len(path):>9}"
        f"{one:>9.3f}{each:>11.3f}{each / one:>8.1f}x"
    )


def _r_glmnet_reference(repeats: int) -> None:
    """R glmnet's own path against separate single-lambda fits, on the same folds and grid."""
    if shutil.which("Rscript") is None:
        print("  (no Rscript: R glmnet's own path ratio not measured)")
        return
    script = Path(__file__).resolve().parent / "reference" / "glmnet_path.R"
    run = subprocess.run(
        ["Rscript", str(script), str(repeats)], capture_output=True, text=True, check=False
    )
    line = next((ln for ln in run.stdout.splitlines() if ln.startswith("R_GLMNET")), None)
    if line is None:
        print(f"  (R glmnet reference failed: {run.stderr.strip().splitlines()[-1:]})")
        return
    _, _, path, _, separate, _, ratio = line.split()
    print(
        f"{'  R':<8}{'glmnet itself (Fortran), same grid':<48}{1:>9}{20:>9}"
        f"{float(path):>9.3f}{float(separate):>11.3f}{float(ratio):>8.1f}x"
    )


if __name__ == "__main__":
    main()
