"""leanfit beside scikit-learn on the same folds (issue 16 figures): the bundled data sets x rf,
gbm, glmnet, svm_radial, knn and mlp.

For each pair, leanfit tunes the method over its default grid (tune_length 3; svm_radial over a
fixed sigma, since kernlab's sigest draws it at random) with 5-fold CV on folds drawn once by
scikit-learn. Then scikit-learn's nearest equivalent, with the hyperparameters leanfit chose,
is scored on exactly those folds. Printed: the chosen candidate's resampled Accuracy (or RMSE)
on both sides and the difference. Pre-processing is the same on both sides (centre and scale
for glmnet, svm_radial, knn and mlp; the response too for svm_radial and mlp in regression, as
kernlab and leanfit's mlp do; median imputation for BreastCancer's missing values).

    python benchmarks/vs_sklearn.py [--data sonar,glass] [--methods rf,knn] [--n-jobs 2]
The equivalents are the scikit-learn estimators that fit the same model, not the same code:
gbm is GradientBoosting with gbm's leaves, shrinkage, minimum node size and half-sample
bagging; glmnet is elastic-net logistic/linear regression at glmnet's lambda; mlp is
MLPClassifier/Regressor with the same units, L2 penalty, batch size and epochs.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import pandas as pd

DATA = {
    # name: (target, columns to drop, letter subsample)
    "sonar": ("Class", [], None),
    "breastcancer": ("Class", ["Id"], None),
    "bostonhousing": ("medv", [], None),
    "glass": ("Type", [], None),
    "letter": ("lettr", [], 3000),
}
METHODS = ["rf", "gbm", "glmnet", "svm_radial", "knn", "mlp"]
SCALED = {"glmnet", "svm_radial", "knn", "mlp"}


def load(name: str) -> tuple[pd.DataFrame, str]:
    import leanfit as lf

    target, drop, sub = DATA[name]
    df = lf.datasets.load(name).drop(columns=drop)
    if sub is not None:
        df = df.sample(n=sub, random_state=1).reset_index(drop=True)
    if name == "bostonhousing":
        df["chas"] = df["chas"].astype(float)
    if name == "breastcancer":
        for c in df.columns.drop(target):
            df[c] = pd.to_numeric(df[c])
    return df, target


def folds(y: pd.Series, classification: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import KFold, StratifiedKFold

    split = (
        StratifiedKFold(5, shuffle=True, random_state=1)
        if classification
        else KFold(5, shuffle=True, random_state=1)
    )
    return list(split.split(np.zeros(len(y)), y))


def sklearn_model(method: str, p: dict[str, Any], classification: bool, n_train: int) -> Any:
    """scikit-learn's estimator for leanfit's ``method`` at the chosen parameters ``p``."""
    from sklearn import ensemble, linear_model, neighbors, neural_network, svm

    if method == "rf":
        cls = ensemble.RandomForestClassifier if classification else ensemble.RandomForestRegressor
        return cls(
            n_estimators=500,
            max_features=int(p["mtry"]),
            min_samples_split=2 if classification else 6,
            random_state=1,
        )
    if method == "gbm":
        cls = (
            ensemble.GradientBoostingClassifier
            if classification
            else ensemble.GradientBoostingRegressor
        )
        return cls(
            n_estimators=int(p["n_trees"]),
            max_leaf_nodes=int(p["interaction_depth"]) + 1,
            max_depth=None,
            learning_rate=float(p["shrinkage"]),
            min_samples_leaf=int(p["n_minobsinnode"]),
            subsample=0.5,
            random_state=1,
        )
    if method == "glmnet":
        lam, alpha = float(p["lambda"]), float(p["alpha"])
        if classification:
            # glmnet: -loglik/n + lambda*(alpha*|b|_1 + (1-alpha)/2*|b|^2); sklearn: C*loglik +
            # l1_ratio*|b|_1 + (1-l1_ratio)/2*|b|^2, so C = 1/(n*lambda)
            return linear_model.LogisticRegression(
                l1_ratio=alpha, C=1.0 / (n_train * lam), solver="saga", max_iter=5000
            )
        return linear_model.ElasticNet(alpha=lam, l1_ratio=alpha, max_iter=100000)
    if method == "svm_radial":
        if classification:
            return svm.SVC(C=float(p["C"]), gamma=float(p["sigma"]))
        return svm.SVR(C=float(p["C"]), gamma=float(p["sigma"]), epsilon=0.1)
    if method == "knn":
        cls = neighbors.KNeighborsClassifier if classification else neighbors.KNeighborsRegressor
        return cls(n_neighbors=int(p["k"]))
    if method == "mlp":
        cls = neural_network.MLPClassifier if classification else neural_network.MLPRegressor
        return cls(
            hidden_layer_sizes=(int(p["units"]),),
            alpha=float(p.get("l2", 0.0)),
            batch_size=int(p.get("batch_size", 32)),
            max_iter=int(p["epochs"]),
            random_state=1,
        )
    raise ValueError(method)


def sklearn_score(
    df: pd.DataFrame, target: str, method: str, p: dict[str, Any], cv: list[Any], cls: bool
) -> float:
    """The mean over ``cv`` of scikit-learn's accuracy (or RMSE) for ``method`` at ``p``."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = df.drop(columns=[target]).to_numpy(float)
    y = df[target].astype(str).to_numpy() if cls else df[target].to_numpy(float)
    scores = []
    for tr, te in cv:
        steps: list[Any] = [SimpleImputer(strategy="median")]
        if method in SCALED:
            steps.append(StandardScaler())
        est = sklearn_model(method, p, cls, len(tr))
        if not cls and method in ("svm_radial", "mlp"):
            # kernlab's ksvm and leanfit's mlp standardise the response in regression
            est = TransformedTargetRegressor(est, transformer=StandardScaler())
        steps.append(est)
        model = make_pipeline(*steps).fit(X[tr], y[tr])
        pred = model.predict(X[te])
        if cls:
            scores.append(float(np.mean(pred == y[te])))
        else:
            scores.append(float(np.sqrt(np.mean((pred - y[te]) ** 2))))
    return float(np.mean(scores))


def leanfit_fit(
    df: pd.DataFrame, target: str, method: str, cv: list[Any], cls: bool, n_jobs: int
) -> tuple[float, dict[str, Any]]:
    """leanfit's chosen candidate: its resampled accuracy (or RMSE) and parameters."""
    import leanfit as lf

    ctl = lf.Control(method="cv", index=[tr.tolist() for tr, _ in cv], n_jobs=n_jobs, seed=1)
    pre: list[str] = []
    if df.isna().any().any():
        pre.append("medianImpute")
    if method in SCALED:
        pre += ["center", "scale"]
    kw: dict[str, Any] = {}
    if method == "svm_radial":
        p = df.shape[1] - 1
        kw["grid"] = {"sigma": [1.0 / p], "C": [0.25, 0.5, 1.0]}
    else:
        kw["tune_length"] = 3
    metric = "Accuracy" if cls else "RMSE"
    fit = lf.train(
        f"{target} ~ .",
        data=df,
        method=method,
        control=ctl,
        preprocess=pre or None,
        metric=metric,
        **kw,
    )
    best = fit.best_params
    row = fit.results
    for k, v in best.items():
        row = row[row[k] == v]
    return float(row[metric].iloc[0]), best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=",".join(DATA))
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--n-jobs", type=int, default=2)
    args = ap.parse_args()
    rows = []
    for name in args.data.split(","):
        df, target = load(name)
        cls = not pd.api.types.is_numeric_dtype(df[target]) or name == "glass"
        if cls:
            df[target] = df[target].astype(str)
        cv = folds(df[target], cls)
        for method in args.methods.split(","):
            t0 = time.perf_counter()
            ours, best = leanfit_fit(df, target, method, cv, cls, args.n_jobs)
            t1 = time.perf_counter()
            theirs = sklearn_score(df, target, method, best, cv, cls)
            t2 = time.perf_counter()
            rows.append(
                {
                    "data": name,
                    "method": method,
                    "metric": "Accuracy" if cls else "RMSE",
                    "leanfit": round(ours, 4),
                    "sklearn": round(theirs, 4),
                    "diff": round(ours - theirs, 4),
                    "leanfit_s": round(t1 - t0, 1),
                    "sklearn_s": round(t2 - t1, 1),
                    "chosen": ", ".join(
                        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in best.items()
                    ),
                }
            )
            print(pd.DataFrame(rows[-1:]).to_string(index=False, header=len(rows) == 1), flush=True)
    table = pd.DataFrame(rows)
    print()
    print(table.to_markdown(index=False) if _has_tabulate() else table.to_string(index=False))


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
