"""How fast can a random-forest engine make caret's rf workflow? One 500-tree forest on all rows
of Sonar and BostonHousing at caret's three mtry values, per engine, against R's randomForest
(what caret fits) in the same run: the engine-bound ceiling of issue 3's "rf >= 3x faster than
caret" figure.

caret fits its 31 forests (3 mtry x 10 folds + the final fit) one after another; leanfit spreads
them over the workers. So with W workers an engine can at best make the workflow
``W x (randomForest's seconds) / (engine's seconds)`` faster, summed over the three mtry values;
orchestration only subtracts from that. Engines measured: leanfit's rf (scikit-learn), and, when
importable, scikit-learn-intelex and ydf with randomForest's settings (not leanfit dependencies).

    python benchmarks/rf_engines.py [--repeats 3] [--workers 2]
Needs Rscript with randomForest and mlbench for the reference column.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = {"sonar": "Class ~ .", "bostonhousing": "medv ~ ."}


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _leanfit_rf(data, mtry: int):
    from leanfit.models.base import registry

    model = registry()["rf"]()
    return lambda: model.fit(data, {"mtry": mtry}, [{}], seed=1)


def _sklearnex_rf(data, mtry: int):
    """scikit-learn-intelex's forest with the settings leanfit's rf gives scikit-learn."""
    try:
        from sklearnex.ensemble import RandomForestClassifier, RandomForestRegressor
    except ImportError:
        return None
    classify = data.mode == "classification"
    cls = RandomForestClassifier if classify else RandomForestRegressor
    est = cls(500, max_features=mtry, min_samples_split=2 if classify else 6, n_jobs=1)
    return lambda: est.fit(data.X, data.y)


def _ydf_rf(data, mtry: int):
    """ydf's random forest with randomForest's settings: bootstrap, unlimited depth, nodesize."""
    try:
        import ydf
    except ImportError:
        return None
    import pandas as pd

    classify = data.mode == "classification"
    frame = pd.DataFrame(data.X, columns=[f"x{i}" for i in range(data.X.shape[1])])
    frame["y"] = data.y
    learner = ydf.RandomForestLearner(
        label="y",
        task=ydf.Task.CLASSIFICATION if classify else ydf.Task.REGRESSION,
        num_trees=500,
        num_candidate_attributes=mtry,
        min_examples=1 if classify else 5,
        max_depth=-1,
        compute_oob_performances=False,
        winner_take_all=False,
        num_threads=1,
    )
    return lambda: learner.train(frame, verbose=0)


ENGINES = {
    "leanfit rf (scikit-learn)": _leanfit_rf,
    "scikit-learn-intelex": _sklearnex_rf,
    "ydf": _ydf_rf,
}


def _randomforest_times(name: str, mtrys: list[int], repeats: int) -> dict[int, float] | None:
    if shutil.which("Rscript") is None:
        return None
    run = subprocess.run(
        ["Rscript", str(HERE / "reference" / "rf_engines.R"), name, str(repeats)]
        + [str(m) for m in mtrys],
        capture_output=True,
        text=True,
        check=False,
    )
    found = {}
    for line in run.stdout.splitlines():
        if line.startswith("R_RF "):
            _, m, t = line.split()
            found[int(m)] = float(t)
    return found or None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2, help="leanfit's n_jobs in the ceiling")
    args = ap.parse_args()
    import leanfit as lf
    from leanfit.frame import make_dataset
    from leanfit.models.base import TrainingData
    from leanfit.models.linear import var_seq

    print(
        f"One 500-tree forest on all rows, seconds (median of {args.repeats}); ceiling = "
        f"{args.workers} workers x randomForest's total / the engine's total (target: >= 3x)"
    )
    for name, formula in CASES.items():
        ds = make_dataset(formula, data=lf.datasets.load(name))
        data = TrainingData(X=ds.X, y=ds.y, mode=ds.mode, levels=ds.levels)
        mtrys = [int(m) for m in var_seq(ds.X.shape[1], ds.mode == "classification")]
        reference = _randomforest_times(name, mtrys, args.repeats)
        print(f"\n{name} ({ds.X.shape[0]} x {ds.X.shape[1]}), mtry {mtrys}")
        head = "".join(f"{'mtry ' + str(m):>10}" for m in mtrys)
        print(f"{'engine':<28}{head}{'total':>9}{'ceiling':>9}")
        rows = {"R randomForest (caret's)": reference}
        for label, make in ENGINES.items():
            fits = [make(data, m) for m in mtrys]
            if any(f is None for f in fits):
                rows[label] = None
                continue
            fits[0]()  # warm-up: imports, first-call set-up
            timed = zip(mtrys, fits, strict=True)
            rows[label] = {m: _median_time(f, args.repeats) for m, f in timed}
        r_total = sum(reference.values()) if reference else None
        for label, times in rows.items():
            if times is None:
                print(f"{label:<28}(not available here)")
                continue
            total = sum(times.values())
            cells = "".join(f"{times[m]:>10.3f}" for m in mtrys)
            ceiling = "" if r_total is None else f"{args.workers * r_total / total:>8.1f}x"
            print(f"{label:<28}{cells}{total:>9.3f}{ceiling}")


if __name__ == "__main__":
    main()
