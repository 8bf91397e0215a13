"""R formulas on BostonHousing (issue 18): resampled RMSE of lm and glmnet with main effects
against a formula with poly and interaction terms, and caret's lm with the same formulas on the
same 10 folds (drawn by reference/caret_formulas.R). caret builds poly's basis on all rows and
leanfit inside each fold; lm's predictions do not depend on the basis, so lm must agree to 1e-6.

    python benchmarks/formulas_boston.py          (needs R with caret)
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
MAIN = "medv ~ ."
RICH = (
    "medv ~ crim + zn + indus + chas + nox + age + dis + rad + tax + ptratio + b"
    " + poly(lstat, 2) + poly(rm, 2) + lstat:rm + poly(dis, 2) + nox:dis"
)


def main() -> None:
    import leanfit as lf
    from leanfit.datasets import load

    data = load("bostonhousing")
    tmp = Path(tempfile.mkdtemp())
    data.to_csv(tmp / "boston.csv", index=False)
    subprocess.run(
        ["Rscript", str(HERE / "reference" / "caret_formulas.R"), str(tmp / "boston.csv"),
         str(tmp / "caret.json"), MAIN, RICH],
        check=True,
        capture_output=True,  # R's rank-deficiency warnings on some folds: not ours to show
    )  # fmt: skip
    caret = json.loads((tmp / "caret.json").read_text())
    control = lf.Control(method="cv", index=caret["index"])
    print(f"{'formula':<14} {'method':<7} {'leanfit RMSE':>13} {'caret RMSE':>11} {'|diff|':>9}")
    best: dict[tuple[str, str], float] = {}
    for label, formula, caret_rmse in (("main effects", MAIN, caret["rmse"][0]),
                                       ("poly+inter", RICH, caret["rmse"][1])):  # fmt: skip
        for method in ("lm", "glmnet"):
            fit = lf.train(formula, data=data, method=method, control=control, seed=1)
            rmse = float(fit.results["RMSE"].min())
            best[(label, method)] = rmse
            ref = f"{caret_rmse:11.6f} {abs(rmse - caret_rmse):9.1e}" if method == "lm" else ""
            print(f"{label:<14} {method:<7} {rmse:13.6f} {ref}")
    for method in ("lm", "glmnet"):
        a, b = best[("main effects", method)], best[("poly+inter", method)]
        print(f"{method}: poly+interactions RMSE {b:.4f} vs main effects {a:.4f} "
              f"(target: lower) -> {'met' if b < a else 'NOT met'}")  # fmt: skip
    print("target: leanfit lm RMSE equals caret's to 1e-6 on caret's folds (see |diff|)")


if __name__ == "__main__":
    main()
