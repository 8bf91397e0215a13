"""The leak's optimism: target encoding fitted inside each resample vs fitted once on all rows.

A synthetic regression with a 500-level factor (about 4 training rows per level, level effects
hidden under noise) and one number. Two ways to use the factor, both through lf.train(lm) with
10-fold CV on the training rows, then scored on as many fresh test rows:

* inside: ``preprocess=PreProcess(["target_encode"])`` -- each resample encodes its training
  rows with inner cross-fitting and its held-out rows with the training rows' encodings;
* leaky: scikit-learn's TargetEncoder fitted once on all training rows (``fit().transform()``,
  every row's own outcome in its encoding), the encoded column handed to train().

Optimism = test-set RMSE minus the resampled RMSE (positive: the resampled estimate promised
more than the model delivers). Target: the leaky optimism is larger than the honest one, and
the honest one is within 2 standard errors of the resampled RMSE of 0. Medians over --seeds
data sets.

    python benchmarks/target_encoding.py [--seeds 5] [--levels 500] [--rows 2000]
"""

from __future__ import annotations

import argparse
import statistics
import warnings

import numpy as np
import pandas as pd


def make(seed: int, levels: int, rows: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and test rows from one population (level effects sd 1, noise sd 2)."""
    rng = np.random.default_rng(seed)
    names = np.array([f"z{i:03d}" for i in range(levels)])
    effect = rng.normal(size=levels)

    def draw(n: int) -> pd.DataFrame:
        lev = rng.integers(0, levels, n)
        x = rng.normal(size=n)
        y = effect[lev] + 0.5 * x + rng.normal(scale=2.0, size=n)
        return pd.DataFrame({"zip": names[lev], "x": x, "y": y})

    return draw(rows), draw(rows)


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def main() -> None:
    """Run both ways on each seed and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--levels", type=int, default=500)
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()

    from sklearn.preprocessing import TargetEncoder

    import leanfit as lf

    control = lf.Control(method="cv", number=10)
    rows: dict[str, list[tuple[float, float, float]]] = {"inside": [], "leaky": []}
    for seed in range(args.seeds):
        train, test = make(seed, args.levels, args.rows)
        pp = lf.PreProcess(["target_encode"], encode_columns=["zip"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # levels constant in some resamples, etc.
            honest = lf.train(train, "y", method="lm", preprocess=pp, control=control, seed=seed)
        te = TargetEncoder(target_type="continuous", random_state=0)
        enc = te.fit(train[["zip"]], train.y)  # the leak: fitted on every training row
        leaky_train = train.assign(zip=enc.transform(train[["zip"]])[:, 0])
        leaky_test = test.assign(zip=enc.transform(test[["zip"]])[:, 0])
        leaky = lf.train(leaky_train, "y", method="lm", control=control, seed=seed)
        for name, res, new in (("inside", honest, test), ("leaky", leaky, leaky_test)):
            resampled = float(res.results["RMSE"].iloc[0])
            se = float(res.results["RMSESD"].iloc[0]) / np.sqrt(10)
            tested = rmse(res.predict(new.drop(columns="y")), new.y)
            rows[name].append((resampled, tested, se))
            print(
                f"seed {seed} {name:>6}: resampled RMSE {resampled:.4f} (SE {se:.4f}), test RMSE "
                f"{tested:.4f}, optimism (test - resampled) {tested - resampled:+.4f}"
            )

    def med(name: str, k: int) -> float:
        return statistics.median(r[k] for r in rows[name])

    opt = {n: statistics.median(r[1] - r[0] for r in rows[n]) for n in rows}
    print(f"\n{args.levels}-level factor, {args.rows} training and test rows, medians of "
          f"{args.seeds} data sets:")  # fmt: skip
    for name in rows:
        print(
            f"  {name:>6}: resampled RMSE {med(name, 0):.4f}, test RMSE {med(name, 1):.4f}, "
            f"optimism {opt[name]:+.4f} (resampled minus test {-opt[name]:+.4f})"
        )
    se = med("inside", 2)
    ok = opt["leaky"] > opt["inside"] and abs(opt["inside"]) < 2 * se
    ratio = opt["leaky"] / abs(opt["inside"]) if opt["inside"] else float("inf")
    print(
        f"  target: leaky optimism > inside optimism, and |inside optimism| < 2 SE "
        f"({2 * se:.4f}): {'OK' if ok else 'NOT MET'}; leaky / |inside| optimism = {ratio:.1f}x"
    )


if __name__ == "__main__":
    main()
