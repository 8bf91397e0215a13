"""rf's engine option: options={"engine": "sklearnex"} grows the forest with scikit-learn-intelex
and keeps it as a scikit-learn forest (fits, out-of-bag scoring, agreement with the sklearn
engine, the store round trip, errors)."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression

import leanfit as lf
from leanfit.models.base import TrainingData, get_model
from leanfit.restore import restore_fit
from leanfit.store import Store
from leanfit.store.artifacts import UnsafeModelError, dump_model
from leanfit.tuning.train import plan_train

pytest.importorskip("sklearnex")

RF = type(get_model("rf"))


def _rf(engine: str, **options: object) -> lf.Model:
    return RF(options={"engine": engine, **options})


@pytest.fixture(scope="module")
def three_class() -> tuple[pd.DataFrame, pd.DataFrame]:
    X, y = make_classification(
        1200, 12, n_informative=6, n_redundant=2, n_classes=3, class_sep=0.8, random_state=3
    )
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(12)]).assign(
        cls=np.array(["a", "b", "c"])[y]
    )
    return df.iloc[:800].reset_index(drop=True), df.iloc[800:].reset_index(drop=True)


def _fit(engine: str, train: pd.DataFrame, **kw: object) -> lf.TrainResult:
    return lf.train(
        "cls ~ .",
        data=train,
        method=_rf(engine, **kw.pop("options", {})),  # type: ignore[arg-type]
        grid=pd.DataFrame({"mtry": [3]}),
        control=lf.Control(method=kw.pop("ctl", "none")),  # type: ignore[arg-type]
        seed=7,
        **kw,
    )


def test_fits_and_agrees_with_the_sklearn_engine(three_class):
    """Two 500-tree forests differ only by their random draws: the same held-out accuracy
    within noise, nearly the same classes and probabilities (measured: held-out accuracies
    0.765 and 0.7475, classes agree on 96.5%, mean probability difference 0.020)."""
    train, test = three_class
    a, b = _fit("sklearn", train), _fit("sklearnex", train)
    acc = [(r.predict(test) == test["cls"]).mean() for r in (a, b)]
    assert acc[0] > 0.7 and abs(acc[0] - acc[1]) < 0.04
    assert (a.predict(test) == b.predict(test)).mean() > 0.9
    pa, pb = a.predict_proba(test), b.predict_proba(test)
    assert list(pb.columns) == ["a", "b", "c"]
    np.testing.assert_allclose(pb.sum(axis=1), 1.0)
    assert np.abs(pa.to_numpy() - pb.to_numpy()).mean() < 0.06
    # the fitted object is a scikit-learn forest whatever the engine (what gets stored)
    assert type(b.final_model.est).__module__.startswith("sklearn.ensemble")


def test_probabilities_are_shares_of_tree_votes(three_class):
    """With nodesize 5 leaves are impure: a class probability is the share of trees voting for
    it (randomForest's definition), computed here tree by tree."""
    train, test = three_class
    res = _fit("sklearnex", train, options={"nodesize": 5, "n_trees": 60})
    X = test.drop(columns="cls").to_numpy()
    trees = res.final_model.est.estimators_
    assert len(trees) == 60
    votes = np.stack([tree.predict(X).astype(int) for tree in trees])
    shares = np.stack([(votes == k).mean(axis=0) for k in range(3)], axis=1)
    np.testing.assert_allclose(res.predict_proba(test).to_numpy(), shares, atol=1e-12)


def test_regression_agrees_with_the_sklearn_engine():
    X, y = make_regression(700, 8, n_informative=5, noise=10.0, random_state=2)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(8)]).assign(y=y + 500.0)
    train, test = df.iloc[:500], df.iloc[500:]
    rmse = []
    for engine in ("sklearn", "sklearnex"):
        res = lf.train(
            "y ~ .", data=train, method=_rf(engine), grid={"mtry": [3]},
            control=lf.Control(method="none"), seed=4,
        )  # fmt: skip
        rmse.append(float(np.sqrt(((res.predict(test) - test["y"]) ** 2).mean())))
    assert rmse[1] < 0.5 * test["y"].std()  # learns something
    assert abs(rmse[0] - rmse[1]) < 0.1 * rmse[0]


def test_oob_scoring_matches_the_sklearn_engine_and_held_out_rows(three_class):
    """Measured (200 trees): out-of-bag accuracy 0.764 (sklearn), 0.7575 (sklearnex); held out
    0.76."""
    train, test = three_class
    res = {e: _fit(e, train, ctl="oob", options={"n_trees": 200}) for e in ("sklearn", "sklearnex")}
    oob = {e: float(r.results["Accuracy"].iloc[0]) for e, r in res.items()}
    held_out = float((res["sklearnex"].predict(test) == test["cls"]).mean())
    assert abs(oob["sklearnex"] - oob["sklearn"]) < 0.04
    assert abs(oob["sklearnex"] - held_out) < 0.05


def test_oob_rows_that_every_tree_drew():
    """With 3 trees a row is in all bootstrap samples with probability (1 - 1/e)^3 = 0.25: no
    out-of-bag prediction (NaN in regression). 500 trees leave none without one, even for a
    target whose exact zeros oneDAL's "no prediction" 0 could be mistaken for."""
    X, y = make_regression(400, 5, noise=1.0, random_state=0)
    y[:150] = 0.0
    m = _rf("sklearnex", n_trees=3)
    fitted = m.fit(TrainingData(X, y, "regression", oob=True), {"mtry": 2}, [{}], seed=1)
    pred, prob = m.oob_predict(fitted, [{}])
    n_nan = int(np.isnan(pred[0]).sum())
    assert prob is None and 400 * 0.2525 - 5 * 8.7 < n_nan < 400 * 0.2525 + 5 * 8.7
    m = _rf("sklearnex")
    fitted = m.fit(TrainingData(X, y, "regression", oob=True), {"mtry": 2}, [{}], seed=1)
    pred, _ = m.oob_predict(fitted, [{}])
    assert not np.isnan(pred).any()
    assert np.corrcoef(pred[0], y)[0, 1] > 0.7
    # classification: rows no tree left out get uniform probabilities
    yc = (X[:, 0] > 0).astype(int)
    m = _rf("sklearnex", n_trees=3)
    fitted = m.fit(
        TrainingData(X, yc, "classification", levels=("n", "p"), oob=True), {"mtry": 2}, [{}], 1
    )
    _, prob = m.oob_predict(fitted, [{}])
    n_uniform = int((prob[0] == 0.5).all(axis=1).sum())
    assert 400 * 0.2525 - 5 * 8.7 < n_uniform < 400 * 0.2525 + 5 * 8.7


def test_weights_and_missing_values_are_taken(three_class):
    """sklearnex hands these fits to scikit-learn itself; they still fit and predict."""
    train, test = three_class
    train = train.copy()
    train.loc[::9, "x0"] = np.nan
    w = np.where(train["cls"] == "a", 3.0, 1.0)
    res = _fit("sklearnex", train, options={"n_trees": 100}, weights=w)
    assert (res.predict(test) == test["cls"]).mean() > 0.7
    # weight 3 on class a moves predictions towards it
    plain = _fit("sklearnex", train, options={"n_trees": 100})
    assert (res.predict(test) == "a").sum() > (plain.predict(test) == "a").sum()


def test_store_round_trip(tmp_path, three_class):
    train, test = three_class
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    kw = {
        "x": "cls ~ .",
        "data": train,
        "method": _rf("sklearnex", n_trees=80),
        "grid": pd.DataFrame({"mtry": [2, 4]}),
        "control": lf.Control(method="cv", number=3),
        "seed": 5,
    }
    first = lf.train(**kw, store=store, experiment="rf", fit="sklearnex")
    run = store.run(first.store_run["run_id"])
    assert run["artifacts"]["final_model"]["fmt"] == "skops" and run["summary"]["notes"] == []
    back = restore_fit(store, first.store_run["run_id"], plan=plan_train(**kw))
    assert type(back.final_model.est).__module__.startswith("sklearn.ensemble")
    pd.testing.assert_frame_equal(back.predict_proba(test), first.predict_proba(test))
    pd.testing.assert_series_equal(back.predict(test), first.predict(test))
    store.close()


def test_a_raw_sklearnex_forest_is_refused_not_a_crash():
    from sklearnex.ensemble import RandomForestClassifier

    from leanfit.models.trees import EngineFit

    rng = np.random.default_rng(0)
    est = RandomForestClassifier(5, random_state=0).fit(rng.random((40, 3)), np.arange(40) % 2)
    with pytest.raises(UnsafeModelError, match="sklearnex.*scikit-learn forest"):
        dump_model(EngineFit(est, "classification", 2))


def test_bad_engine_name_and_missing_package(three_class, monkeypatch):
    train, _ = three_class
    with pytest.raises(ValueError, match=r"options\['engine'\].*'sklearn', 'sklearnex'.*'ranger'"):
        _fit("ranger", train)
    with pytest.raises(ValueError, match="qrf: unknown option.*engine"):
        lf.train(
            "x0 ~ .", data=train.drop(columns="cls"), method=type(get_model("qrf"))(
                options={"engine": "sklearnex"}), control=lf.Control(method="none"),
            grid={"mtry": [2]},
        )  # fmt: skip
    monkeypatch.setitem(sys.modules, "sklearnex", None)
    monkeypatch.setitem(sys.modules, "sklearnex.ensemble", None)
    with pytest.raises(ImportError, match=r"pip install 'leanfit\[fast-rf\]'"):
        _fit("sklearnex", train)
