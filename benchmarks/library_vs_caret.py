"""leanfit's glmnet, pls, knn, lda and rf against caret on Sonar and BostonHousing (issue 3
figures; and all but rf on Glass, 6 classes): the same 10-fold CV indices (caret's, written by
reference/caret_library.R), each method's default grid (tune_length 3); chosen candidate's
resampled metric and wall time (median of --repeats runs on both sides, default 5: most fits
take well under a second, so single runs are at the mercy of this machine's noise; the first
run also loads or imports the engine).

    python benchmarks/library_vs_caret.py [--n-jobs 2] [--repeats 5] [--caret-json FILE]
Without --caret-json it runs the R script (R + caret + randomForest, pls, glmnet needed).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FORMULA = {"sonar": "Class ~ .", "bostonhousing": "medv ~ .", "glass": "Type ~ ."}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5, help="runs per fit on each side")
    ap.add_argument("--caret-json", help="output of reference/caret_library.R (else run it)")
    args = ap.parse_args()
    import leanfit as lf

    path = args.caret_json
    if path is None:
        path = str(Path(tempfile.mkdtemp()) / "caret_library.json")
        subprocess.run(
            ["Rscript", str(HERE / "reference" / "caret_library.R"), path, str(args.repeats)],
            check=True,
            capture_output=True,
        )
    ref = json.loads(Path(path).read_text())
    print(
        f"{'data':<14}{'method':<8}{'metric':<9}{'caret':>9}{'leanfit':>9}{'diff':>9}"
        f"{'caret s':>9}{'leanfit s':>10}{'ratio':>7}  leanfit's choice"
    )
    for data_name, block in ref.items():
        data = lf.datasets.load(data_name)
        ctl = lf.Control(method="cv", index=block["index"], n_jobs=args.n_jobs)
        for method, fit in block["fits"].items():
            times = []
            for _ in range(args.repeats):  # as caret's side: the first run imports the engine
                t0 = time.perf_counter()
                res = lf.train(
                    FORMULA[data_name],
                    data=data,
                    method=method,
                    control=ctl,
                    tune_length=3,
                    seed=1,
                )
                times.append(time.perf_counter() - t0)
            secs = statistics.median(times)
            value = float(res.results[fit["metric"]].iloc[res.best_index])
            print(
                f"{data_name:<14}{method:<8}{fit['metric']:<9}{fit['value']:>9.4f}"
                f"{value:>9.4f}{value - fit['value']:>+9.4f}{fit['seconds']:>9.2f}"
                f"{secs:>10.2f}{fit['seconds'] / secs:>6.1f}x  {res.best_params}"
            )


if __name__ == "__main__":
    main()
