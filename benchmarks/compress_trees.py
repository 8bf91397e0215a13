"""Tree compression figures (issue 13), one run, each printed with its target.

1. Fewest trees within tolerance, on the seed's gbmFit3 (Sonar, caret's partition and 10 x 10
   CV folds, ROC; 90 candidates): the candidates are the final model cut at every tree count of
   the resampled profile (the chosen depth); the fewest whose test AUC is within 0.002 of the
   whole model's is what lf.compress would ship. Target: at most half the trees for <= 0.002
   AUC. The resampled profile's own answer is printed beside it.
2. Compiled LightGBM (treelite + tl2cgen) against LightGBM's own predict and ONNX Runtime on
   the same model: single-row latency, one thread, median over rows. Targets: >= 5x faster than
   LightGBM's predict and faster than ONNX Runtime. Run on the gbmFit3 model and on a Letter
   LightGBM (26 classes; --letter-rounds boosting rounds, so 26 x rounds trees).

    python benchmarks/compress_trees.py [--letter-rounds 20] [--n-jobs 2]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def single_row(predict, rows: np.ndarray, repeats: int = 3) -> float:
    """Median microseconds per single-row call over ``rows``, after a warm-up."""
    from leanfit.compression.compiled import single_row_us

    return single_row_us(predict, rows, repeats=repeats)


def auc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p))


def fewest_trees(n_jobs: int) -> object:
    import leanfit as lf
    from leanfit.compression import Source
    from leanfit.compression.trees import tree_candidates, tree_profile

    ref = json.loads((HERE / "reference" / "caret_sonar_folds.json").read_text())
    sonar = lf.datasets.load("sonar")
    training = sonar.iloc[ref["train_rows"]].reset_index(drop=True)
    testing = sonar.drop(sonar.index[ref["train_rows"]])
    ctl = lf.Control(
        method="repeatedcv",
        number=10,
        repeats=10,
        index=ref["index"],
        n_jobs=n_jobs,
        class_probs=True,
        summary="two_class",
    )
    grid = lf.expand_grid(
        interaction_depth=[1, 5, 9], n_trees=range(50, 1501, 50), shrinkage=0.1, n_minobsinnode=20
    )
    t0 = time.perf_counter()
    fit = lf.train(
        "Class ~ .", data=training, method="gbm", control=ctl, grid=grid, metric="ROC", seed=1
    )
    print(f"gbmFit3 trained in {time.perf_counter() - t0:.1f} s; chosen {fit.best_params}")
    prof = tree_profile(fit)
    n = int(fit.best_params["n_trees"])
    best = float(prof.loc[prof["n_trees"] == n, "ROC"].iloc[0])
    k_resampled = int(prof.loc[prof["ROC"] >= best - 0.002, "n_trees"].min())
    X = np.asarray(fit.dataset.X, dtype=np.float32)
    src = Source(fit, X, np.asarray(fit.dataset.y), list(fit.dataset.levels))
    cands = tree_candidates(src, {"compile": "none"})  # every count of the profile below n
    Xt = fit.dataset.encoder.transform(testing).astype(np.float32)
    yt = (testing["Class"] == fit.dataset.levels[1]).to_numpy()
    full_auc = auc(yt, fit.predict_proba(testing).iloc[:, 1].to_numpy())
    test_auc = {int(c.settings["n_trees"]): auc(yt, c.predict(Xt)[:, 1]) for c in cands}
    test_auc[n] = full_auc
    k_test = min(k for k, a in test_auc.items() if a >= full_auc - 0.002)
    print("\n1. Fewest trees within 0.002 AUC (gbmFit3's profile, no refit)")
    print(f"   chosen: {n} trees, resampled ROC {best:.4f}, test AUC {full_auc:.4f}")
    print("   n_trees  resampled ROC  test AUC")
    for k in sorted(test_auc):
        roc = float(prof.loc[prof["n_trees"] == k, "ROC"].iloc[0])
        print(f"   {k:7d}  {roc:13.4f}  {test_auc[k]:8.4f}")
    print(
        f"   on the test rows (as lf.compress selects): {k_test} trees, test AUC "
        f"{test_auc[k_test]:.4f}; trees kept {k_test / n:.2f} (target <= 0.50)"
    )
    print(
        f"   on the resampled profile: {k_resampled} trees within 0.002 of the chosen ROC; "
        f"trees kept {k_resampled / n:.2f}"
    )
    return fit


def compiled_vs(label: str, booster, X: np.ndarray, k: int | None) -> None:
    """Single-row latency of LightGBM, ONNX Runtime and the compiled library on ``booster``."""
    import lightgbm as lgb
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    from leanfit.compression.compiled import compile_trees
    from leanfit.export.runtime import fast_runner, onnx_session

    cut = lgb.Booster(model_str=booster.model_to_string(num_iteration=k))
    t0 = time.perf_counter()
    lib = compile_trees("lightgbm", cut, None)
    compile_s = time.perf_counter() - t0
    onnx = convert_lightgbm(
        cut,
        initial_types=[("X", FloatTensorType([None, X.shape[1]]))],
        zipmap=False,
        target_opset=15,
    ).SerializeToString()
    run = fast_runner(onnx_session(onnx, threads=1))  # as every ONNX candidate is timed
    rows = X[:300].astype(np.float32)
    ref = cut.predict(rows, num_threads=1)
    got = lib.predict(rows)
    err = float(np.abs(got.reshape(ref.shape) - ref).max())
    t_lgb = single_row(lambda r: cut.predict(r, num_threads=1), rows)
    t_ort = single_row(lambda r: run({"X": r}), rows)
    t_lib = single_row(lib.predict, rows)
    print(f"\n2. Compiled LightGBM, {label}: {cut.num_trees()} trees")
    print(f"   compiled in {compile_s:.0f} s")
    print(f"   max |compiled - LightGBM| = {err:.1e}")
    print(f"   single row, one thread (median us): LightGBM {t_lgb:.1f}, ONNX Runtime {t_ort:.1f},")
    print(f"   compiled {t_lib:.1f} (library {lib.size_bytes / 1e3:.0f} kB)")
    print(f"   compiled vs LightGBM {t_lgb / t_lib:.1f}x (target >= 5x); ")
    print(f"   compiled vs ONNX Runtime {t_ort / t_lib:.2f}x (target > 1)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--letter-rounds", type=int, default=20)
    ap.add_argument("--n-jobs", type=int, default=2)
    args = ap.parse_args()
    import lightgbm as lgb

    import leanfit as lf

    fit = fewest_trees(args.n_jobs)
    X = np.asarray(fit.dataset.X, dtype=np.float32)
    compiled_vs("Sonar gbmFit3 (chosen)", fit.final_model, X, int(fit.best_params["n_trees"]))

    letter = lf.datasets.load("letter")
    train = letter.iloc[:16_000]
    y = train["lettr"].astype("category").cat.codes.to_numpy()
    Xl = train.drop(columns="lettr").to_numpy(np.float32)
    params = {"objective": "multiclass", "num_class": 26, "num_leaves": 31, "verbose": -1}
    booster = lgb.train({**params, "num_threads": 2}, lgb.Dataset(Xl, y), args.letter_rounds)
    compiled_vs(f"Letter, {args.letter_rounds} rounds x 26 classes", booster, Xl, None)


if __name__ == "__main__":
    main()
