"""Renewal (lf.retrain, `leanfit retrain`): the champion and the challenger on the same
resamples of new data, every figure recomputed by hand (least squares, logistic regression,
scipy's paired t-test); promotion keeps the old bundle; a schema mismatch is refused first."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import leanfit as lf
from leanfit.cli import main

REGRESSION = """\
name: {name}
data: old.csv
formula: y ~ .
fits:
  lmFit:
    method: lm
    control: {{method: cv, number: 5, seed: 3}}
"""


def _lstsq(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    A = np.c_[np.ones(len(X)), X]
    return np.linalg.lstsq(A, y, rcond=None)[0]


def _predict(coef: np.ndarray, X: np.ndarray) -> np.ndarray:
    return np.c_[np.ones(len(X)), X] @ coef


def _rmse(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.sqrt(np.mean((y - p) ** 2)))


def _setup(tmp: Path, name: str, old: pd.DataFrame, config: str = REGRESSION) -> tuple[Path, str]:
    """The config run once into a fresh store (the champion)."""
    old.to_csv(tmp / "old.csv", index=False)
    cfg = tmp / "exp.yaml"
    cfg.write_text(config.format(name=name))
    url = f"sqlite:///{tmp / 'store.db'}"
    assert main(["run", str(cfg), "--store", url, "-q"]) == 0
    return cfg, url


def _frame(rng: np.random.Generator, n: int, slope: float, junk: int = 0) -> pd.DataFrame:
    d = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    for j in range(junk):
        d[f"z{j}"] = rng.normal(size=n)
    d["y"] = slope * d.x1 + rng.normal(scale=0.3, size=n)
    return d


def test_a_drifted_relation_promotes_the_challenger_and_keeps_the_old_bundle(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(1)
    old, new = _frame(rng, 200, 2.0), _frame(rng, 60, -2.0)  # the slope flipped
    cfg, url = _setup(tmp_path, "drift", old)
    new.to_csv(tmp_path / "new.csv", index=False)
    bundle = tmp_path / "model.lfb"
    r = lf.retrain(cfg, tmp_path / "new.csv", store=url, bundle=bundle, report=tmp_path / "r.html")
    assert r.promoted and r.metric == "RMSE" and not r.maximize

    # every figure by hand: the champion is least squares on the old rows, as it stands; the
    # challenger least squares on each resample's training rows of the new data
    cols = ["x1", "x2"]
    champ_coef = _lstsq(old[cols].to_numpy(), old.y.to_numpy())
    X, y = new[cols].to_numpy(), new.y.to_numpy()
    assert r.result is not None and r.result.resamples is not None
    champ, chal, n_tr, n_te = [], [], [], []
    for _, tr, te in r.result.resamples:
        champ.append(_rmse(y[te], _predict(champ_coef, X[te])))
        chal.append(_rmse(y[te], _predict(_lstsq(X[tr], y[tr]), X[te])))
        n_tr.append(len(tr))
        n_te.append(len(te))
    np.testing.assert_allclose(r.values["champion"], champ, rtol=1e-9)
    np.testing.assert_allclose(r.values["challenger"], chal, rtol=1e-9)
    d = np.array(chal) - np.array(champ)
    assert r.p_value == pytest.approx(stats.ttest_rel(chal, champ).pvalue, rel=1e-9)
    J = len(d)
    t = d.mean() / math.sqrt((1 / J + np.mean(n_te) / np.mean(n_tr)) * d.var(ddof=1))
    assert r.p_value_corrected == pytest.approx(2 * stats.t.sf(abs(t), J - 1), rel=1e-9)
    assert r.gain == pytest.approx(-d.mean(), rel=1e-12)  # RMSE: lower is better

    # the new bundle predicts as least squares on all new rows; the old one is kept as .v1
    kept = tmp_path / "model.v1.lfb"
    assert r.bundle == bundle and r.previous_bundle == kept
    probe = new.head(7)
    got_new = lf.load_bundle(bundle).predict(probe)["prediction"].to_numpy()
    got_old = lf.load_bundle(kept).predict(probe)["prediction"].to_numpy()
    np.testing.assert_allclose(got_new, _predict(_lstsq(X, y), X[:7]), atol=1e-9)
    np.testing.assert_allclose(got_old, _predict(champ_coef, X[:7]), atol=1e-9)

    # the decision is in the store and the report
    with lf.Store.open(url) as store:
        rec = lf.renewals(store, "drift").iloc[-1]
    assert bool(rec.promoted) and rec.challenger_run == r.challenger_run
    assert rec.champion == pytest.approx(np.mean(champ), rel=1e-9)
    assert rec.p_value == pytest.approx(r.p_value, rel=1e-9)
    assert rec.previous_bundle == str(kept) and rec.wall_seconds > 0
    html = (tmp_path / "r.html").read_text()
    assert "<h2>Renewal</h2>" in html and "challenger promoted" in html

    # a second retrain starts from the promoted challenger: it is the champion now
    again = lf.retrain(cfg, tmp_path / "new.csv", store=url, bundle=bundle, echo=lambda s: None)
    assert again.champion_run == r.challenger_run


def test_an_overfitting_challenger_is_not_promoted_unless_the_margin_allows(
    tmp_path: Path, capsys: Any
) -> None:
    rng = np.random.default_rng(2)
    # the same relation; the new rows are few for 22 predictors: lm overfits each resample
    old, new = _frame(rng, 2000, 2.0, junk=20), _frame(rng, 40, 2.0, junk=20)
    cfg, url = _setup(tmp_path, "stable", old)
    new.to_csv(tmp_path / "new.csv", index=False)
    bundle = tmp_path / "model.lfb"
    argv = ["retrain", str(cfg), "--data", str(tmp_path / "new.csv"), "--store", url]
    assert main([*argv, "--bundle", str(bundle)]) == 0
    assert "champion kept: RMSE" in capsys.readouterr().out
    with lf.Store.open(url) as store:
        rec = lf.renewals(store, "stable").iloc[-1]
    assert not rec.promoted and rec.challenger > 1.2 * rec.champion
    # the file holds the champion (written since it did not exist); nothing was replaced
    cols = [c for c in new.columns if c != "y"]
    want = _predict(_lstsq(old[cols].to_numpy(), old.y.to_numpy()), new[cols].to_numpy()[:5])
    got = lf.load_bundle(bundle).predict(new.head(5))["prediction"].to_numpy()
    np.testing.assert_allclose(got, want, atol=1e-9)
    before = bundle.read_bytes()
    assert not (tmp_path / "model.v1.lfb").exists()

    # a margin wider than the loss lets the same challenger through
    wide = str(2 * (rec.challenger - rec.champion))
    assert main([*argv, "--bundle", str(bundle), "--margin", wide]) == 0
    assert "challenger promoted" in capsys.readouterr().out
    assert (tmp_path / "model.v1.lfb").read_bytes() == before


CLASSES = """\
name: {name}
data: old.csv
formula: Class ~ .
fits:
  glmFit:
    method: glm
    metric: ROC
    control: {{method: cv, number: 4, seed: 5, class_probs: true, summary: two_class}}
"""


def test_classes_relabelled_are_scored_by_roc_on_the_same_resamples(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)

    def frame(n: int, sign: float) -> pd.DataFrame:
        d = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n)})
        p = 1 / (1 + np.exp(-3 * sign * d.x1))
        d["Class"] = np.where(rng.uniform(size=n) < p, "yes", "no")
        return d

    old, new = frame(300, 1.0), frame(80, -1.0)  # the classes swapped sides
    cfg, url = _setup(tmp_path, "flip", old, CLASSES)
    r = lf.retrain(cfg, new, store=url, bundle=tmp_path / "m.lfb", echo=lambda s: None)
    assert r.metric == "ROC" and r.maximize and r.promoted
    X, yes = new[["x1", "x2"]].to_numpy(), (new.Class == "yes").to_numpy()
    champ_model = LogisticRegression(C=np.inf).fit(old[["x1", "x2"]].to_numpy(), old.Class == "yes")
    assert r.result is not None and r.result.resamples is not None
    champ, chal = [], []
    for _, tr, te in r.result.resamples:
        champ.append(roc_auc_score(yes[te], champ_model.predict_proba(X[te])[:, 1]))
        fold = LogisticRegression(C=np.inf).fit(X[tr], yes[tr])
        chal.append(roc_auc_score(yes[te], fold.predict_proba(X[te])[:, 1]))
    np.testing.assert_allclose(r.values["champion"], champ, rtol=1e-9)
    np.testing.assert_allclose(r.values["challenger"], chal, rtol=1e-9)
    assert r.p_value == pytest.approx(stats.ttest_rel(chal, champ).pvalue, rel=1e-6)


def test_new_data_not_matching_the_champions_schema_is_refused_before_any_fit(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(4)
    old = _frame(rng, 60, 2.0)
    old["g"] = rng.choice(["a", "b"], size=60)
    cfg, url = _setup(tmp_path, "schema", old)
    new = old.drop(columns=["x2"]).assign(
        x1=old.x1.astype(str).where(old.index > 0, "n/a"), g=old.g.where(old.index > 0, "c")
    )
    new["extra"] = 1.0
    with lf.Store.open(url) as store:
        before = len(store.runs())
    with pytest.raises(ValueError) as err:
        lf.retrain(cfg, new, store=url, bundle=tmp_path / "m.lfb", echo=lambda s: None)
    msg = str(err.value)
    assert "do not match the champion's schema" in msg
    assert "missing column(s) ['x2']" in msg
    assert "extra column(s) ['extra']" in msg
    assert "'x1': numeric -> text" in msg
    assert "'g': ['c'] (known: ['a', 'b'])" in msg
    with lf.Store.open(url) as store:
        assert len(store.runs()) == before  # nothing was fitted or stored
    assert not (tmp_path / "m.lfb").exists()


def test_bad_arguments_are_named(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    cfg, url = _setup(tmp_path, "args", _frame(rng, 40, 1.0))
    with pytest.raises(ValueError, match=r"margin=-1 must be a number >= 0"):
        lf.retrain(cfg, tmp_path / "old.csv", store=url, margin=-1)
    with pytest.raises(ValueError, match=r"fit='nope' is not a fit of the config.*lmFit"):
        lf.retrain(cfg, tmp_path / "old.csv", store=url, fit="nope")
    other = f"sqlite:///{tmp_path / 'empty.db'}"
    with pytest.raises(ValueError, match=r"experiment 'args' has no finished run"):
        lf.retrain(cfg, tmp_path / "old.csv", store=other)


KNN = """\
name: {name}
data: old.csv
formula: y ~ .
fits:
  knnFit:
    method: knn
    tune_length: 3
    control: {{method: cv, number: 3, seed: 3}}
"""


def test_the_champions_parameters_are_kept_unless_tune_is_asked(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    cfg, url = _setup(tmp_path, "knn", _frame(rng, 60, 1.0), KNN)
    new = _frame(rng, 45, 1.0)
    with lf.Store.open(url) as store:
        champion = lf.restore_fit(store, int(store.runs()["id"].iloc[0]))
        kept = lf.retrain(cfg, new, store=store, bundle=tmp_path / "m.lfb", echo=lambda s: None)
        tuned = lf.retrain(
            cfg, new, store=store, bundle=tmp_path / "m.lfb", tune=True, echo=lambda s: None
        )
    assert kept.result is not None and tuned.result is not None
    assert kept.result.candidates.to_dict("records") == [champion.best_params]
    assert len(tuned.result.candidates) == 3 and tuned.tuned and not kept.tuned
