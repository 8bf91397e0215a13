"""Ensemble building speed (issue 15 figures).

1. Caruana selection over 50 models' held-out predictions on 100 000 rows (synthetic, binary
   class probabilities with the default Brier loss and regression with RMSE, 50 steps):
   target <= 1 s.
2. Stacking from stored held-out predictions (lf.ensemble(method="stack"), glmnet meta-model)
   beside scikit-learn's StackingClassifier on the same three base models (the scikit-learn
   estimators themselves, trained by leanfit) and the same 5 folds, scored on the same test
   rows: time ratio (target >= 5x) and test Accuracy (target: within 0.005). leanfit's time
   is lf.ensemble() alone, honest inner CV included (medians of --repeats runs, after one
   warm-up that imports the meta-model's engine); the base fits already exist (train()
   made them while tuning), while StackingClassifier.fit refits every base model per fold.
   Rows with a missing value are dropped (BreastCancer: 16) so both sides see the same rows.

    python benchmarks/ensemble_speed.py [--data breastcancer] [--inner 5] [--rows 100000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

TARGETS = {"sonar": "Class", "breastcancer": "Class", "glass": "Type", "letter": "lettr"}


def caruana_speed(rows: int, models: int, seed: int = 0) -> None:
    from leanfit.fusion.combine import caruana_weights

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, rows)
    skill = rng.uniform(0.0, 0.4, (models, 1))
    p0 = np.clip(0.5 + (1 - 2 * y) * skill + rng.normal(0, 0.3, (models, rows)), 0.01, 0.99)
    P = np.stack([p0, 1 - p0], axis=2)
    yr = rng.normal(size=rows)
    R = yr + rng.normal(0, 1, (models, rows)) * rng.uniform(0.5, 2.0, (models, 1))
    for label, arr, target, loss in (
        ("binary, Brier", P, y, "Brier"),
        ("regression, RMSE", R, yr, "RMSE"),
        ("binary, logLoss", P, y, "logLoss"),
    ):
        t0 = time.perf_counter()
        w = caruana_weights(arr, target, loss, iterations=50, bags=1, bag_fraction=0.5, seed=0)
        dt = time.perf_counter() - t0
        print(
            f"Caruana {models} models x {rows} rows ({label}, 50 steps): {dt:.3f} s "
            f"(target <= 1 s) -> {int((w > 0).sum())} members chosen"
        )


def stacking_vs_sklearn(data: str, inner: int, seed: int = 1, repeats: int = 3) -> None:
    from sklearn.ensemble import RandomForestClassifier, StackingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, train_test_split
    from sklearn.neighbors import KNeighborsClassifier

    import leanfit as lf

    target = TARGETS[data]
    df = lf.datasets.load(data).dropna().reset_index(drop=True)
    df = df.drop(columns=[c for c in ("Id",) if c in df.columns])
    train, test = train_test_split(df, test_size=0.3, random_state=seed, stratify=df[target])
    train, test = train.reset_index(drop=True), test.reset_index(drop=True)
    X, y = train.drop(columns=[target]), train[target]
    Xt, yt = test.drop(columns=[target]), test[target]
    Xn, Xtn = X.astype(float).to_numpy(), Xt.astype(float).to_numpy()
    folds = list(StratifiedKFold(5, shuffle=True, random_state=seed).split(Xn, y))

    def bases() -> list:
        return [
            ("rf", RandomForestClassifier(n_estimators=200, random_state=seed, n_jobs=1)),
            ("logistic", LogisticRegression(max_iter=2000)),
            ("knn", KNeighborsClassifier(n_neighbors=15)),
        ]

    sk_times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        sk = StackingClassifier(
            bases(), final_estimator=LogisticRegression(max_iter=2000), cv=folds
        )
        sk.fit(Xn, y.astype(str))
        sk_times.append(time.perf_counter() - t0)
    t_sk = float(np.median(sk_times))
    acc_sk = float(np.mean(sk.predict(Xtn) == yt.astype(str).to_numpy()))

    ctl = lf.Control(
        index=[tr for tr, _ in folds],
        index_out=[te for _, te in folds],
        class_probs=True,
        save_predictions="final",
        seed=seed,
    )
    t0 = time.perf_counter()
    fits = {name: lf.train(X, y, method=est, control=ctl) for name, est in bases()}
    t_base = time.perf_counter() - t0
    lf.ensemble(fits, "stack", inner=inner, seed=seed)  # warm-up: imports the meta engine
    lf_times, nested_times, meta_times = [], [], []
    from leanfit.fusion.stack import fit_stack

    for _ in range(repeats):
        t0 = time.perf_counter()
        ens = lf.ensemble(fits, "stack", inner=inner, seed=seed)
        lf_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        nested = lf.ensemble(fits, "stack", inner=inner, seed=seed, nested=True)
        nested_times.append(time.perf_counter() - t0)
        ho = ens.heldout
        t0 = time.perf_counter()
        fit_stack(ho.P, ho.y, ho.names, ho.levels, "glmnet", None, {}, seed)
        meta_times.append(time.perf_counter() - t0)
    t_stack, t_nested = float(np.median(lf_times)), float(np.median(nested_times))
    t_meta = float(np.median(meta_times))
    acc_lf = float(np.mean(ens.predict(Xt).astype(str).to_numpy() == yt.astype(str).to_numpy()))
    acc_nested = float(
        np.mean(nested.predict(Xt).astype(str).to_numpy() == yt.astype(str).to_numpy())
    )
    print(f"\nStacking on {data} ({len(X)} training rows, {len(Xt)} test rows, 5 folds):")
    print(f"  scikit-learn StackingClassifier.fit: {t_sk:.2f} s, test Accuracy {acc_sk:.4f}")
    print(
        f"  lf.ensemble(method='stack') from stored predictions: {t_stack:.2f} s "
        f"(inner={inner}-fold honest estimate included), test Accuracy {acc_lf:.4f}"
    )
    print(
        f"  nested=True (the meta-model re-tuned inside every inner fold): {t_nested:.2f} s, "
        f"test Accuracy {acc_nested:.4f}"
    )
    print(
        f"  a glmnet meta-model tuned by its own 5-fold CV, no estimate (the stack alone): "
        f"{t_meta:.2f} s"
    )
    print(f"  (leanfit's base fits, made once by train(): {t_base:.2f} s)")
    print(
        f"  speed ratio {t_sk / t_stack:.1f}x with the honest estimate (nested=True: "
        f"{t_sk / t_nested:.1f}x), {t_sk / t_meta:.1f}x for the stack alone (target >= 5x); "
        f"Accuracy difference {acc_lf - acc_sk:+.4f} (target within 0.005)"
    )
    print(
        f"  honest estimate: {ens.results.loc['ensemble', ens.metric]:.4f} {ens.metric}; "
        f"best member {ens.best_member}; paired p = {ens.test['p_value']:.3g}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="breastcancer", choices=sorted(TARGETS))
    ap.add_argument("--inner", type=int, default=5)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--models", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3, help="timings are medians of this many")
    args = ap.parse_args()
    caruana_speed(args.rows, args.models)
    stacking_vs_sklearn(args.data, args.inner, repeats=args.repeats)


if __name__ == "__main__":
    main()
