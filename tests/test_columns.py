"""Columns that used to be misread or crash deep inside pandas: integer-coded classes regressed
without a word, id / free-text / empty predictor columns, and duplicate column names. Each is
warned about or refused before any fit, naming the column and what to do."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import leanfit as lf
from leanfit.encodings import DuplicateRowsWarning
from leanfit.experiment import parse_experiment
from leanfit.importance import filter_var_imp
from leanfit.tuning.train import plan_train, train

CV3 = lf.Control(method="cv", number=3)


@pytest.fixture
def table() -> pd.DataFrame:
    """60 rows: two numeric predictors, a 3-valued integer class code and a 2-level factor."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=60), rng.normal(size=60)
    code = np.digitize(a + rng.normal(scale=0.3, size=60), [-0.5, 0.5])  # 0, 1, 2
    return pd.DataFrame({"a": a, "b": b, "code": code, "f": np.where(np.arange(60) % 2, "u", "v")})


def _refused(fits, match, *args, **kwargs) -> str:
    with pytest.raises(ValueError, match=match) as e:
        train(*args, **kwargs)
    assert fits == [], "a model was fitted before the error"
    return str(e.value)


# -- 1. integer-coded classes -------------------------------------------------------------------


def test_an_integer_coded_target_is_regressed_with_a_warning_naming_it(table):
    with pytest.warns(UserWarning) as rec:
        plan = plan_train("code ~ a + b", data=table, method="lm", control=CV3)
    assert plan.dataset.mode == "regression"
    msg = [str(w.message) for w in rec if "distinct whole values" in str(w.message)]
    assert len(msg) == 1 and "\n" not in msg[0]
    assert "target 'code'" in msg[0] and "[0, 1, 2]" in msg[0]
    assert "task='classification'" in msg[0] and "astype('category')" in msg[0]


def test_no_warning_when_the_task_is_said_or_the_target_is_plainly_numeric(table):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plan = plan_train("code ~ a + b", data=table, method="lm", control=CV3, task="regression")
        assert plan.dataset.mode == "regression"
        np.testing.assert_array_equal(plan.dataset.y, table["code"].to_numpy(dtype=float))
        eleven = table.assign(code=np.arange(60) % 11)  # 11 whole values: a count, not codes
        plan_train("code ~ a + b", data=eleven, method="lm", control=CV3)
        halves = table.assign(code=table["code"] / 2)  # 0, 0.5, 1: not whole
        plan_train("code ~ a + b", data=halves, method="lm", control=CV3)


def test_classification_on_a_numeric_target_equals_declaring_the_classes(table):
    coded = table.assign(code=table["code"].map({0: 1, 1: 2, 2: 10}))
    got = train(
        "code ~ a + b", data=coded, method="lda", control=CV3, seed=4, task="classification"
    )
    # the same classes declared by hand, in numeric order (not "1" < "10" < "2")
    by_hand = coded.assign(
        code=pd.Categorical(coded["code"].astype(str), categories=["1", "2", "10"])
    )
    ref = train("code ~ a + b", data=by_hand, method="lda", control=CV3, seed=4)
    assert got.dataset.mode == "classification"
    assert got.dataset.levels == ("1", "2", "10")
    pd.testing.assert_frame_equal(got.results, ref.results)
    pred = got.predict(coded.head(12))
    assert list(pred.astype(str)) == list(ref.predict(by_hand.head(12)).astype(str))
    assert set(pred.astype(str)) <= {"1", "2", "10"}
    assert list(got.predict_proba(coded.head(3)).columns) == ["1", "2", "10"]


def test_whole_floats_become_integer_class_names(table):
    plan = plan_train(
        "code ~ a + b",
        data=table.assign(code=table["code"].astype(float)),
        method="lda",
        control=CV3,
        task="classification",
    )
    assert plan.dataset.levels == ("0", "1", "2")
    np.testing.assert_array_equal(plan.dataset.y, table["code"].to_numpy())


def test_regression_on_a_categorical_target_and_an_unknown_task_are_refused(table, fits):
    msg = _refused(
        fits,
        "task='regression' needs a numeric target, and target 'f' is not",
        "f ~ a + b",
        data=table,
        method="lm",
        control=CV3,
        task="regression",
    )
    assert "'u'" in msg and "astype(float)" in msg
    _refused(
        fits,
        r"task='classify' is not one of 'classification', 'regression' or None",
        "code ~ a",
        data=table,
        method="lda",
        control=CV3,
        task="classify",
    )


def test_filter_var_imp_takes_the_task(table):
    two = table.assign(code=(table["code"] > 0).astype(int))
    with pytest.warns(UserWarning, match="distinct whole values"):
        auto = filter_var_imp("code ~ a + b", data=two)
    assert list(auto.columns) == ["Overall"]
    imp = filter_var_imp("code ~ a + b", data=two, task="classification")
    assert list(imp.columns) == ["0", "1"]
    for col in ("a", "b"):
        auc = roc_auc_score(two["code"], two[col])
        assert imp.loc[col, "1"] == pytest.approx(max(auc, 1 - auc))


def test_learning_curve_takes_the_task(table):
    lc = lf.learning_curve(
        "code ~ a + b",
        data=table,
        method="lda",
        sizes=[0.5, 1.0],
        control=CV3,
        seed=1,
        task="classification",
    )
    assert lc.metric == "Accuracy"  # a regression would be scored by RMSE
    assert set(lc.table["metric"]) >= {"Accuracy", "Kappa"}


@pytest.mark.parametrize(
    ("select", "kwargs"),
    [
        ("rfe", {"sizes": [1]}),
        ("sbf", {}),
        ("gafs", {"iters": 1, "pop_size": 2, "internal": lf.Control(method="cv", number=2)}),
        ("safs", {"iters": 1, "internal": lf.Control(method="cv", number=2)}),
    ],
)
def test_feature_selection_takes_the_task(table, select, kwargs):
    coded = table.assign(code=table["code"].map({0: 1, 1: 2, 2: 10}))  # labels are not codes
    res = getattr(lf, select)(
        "code ~ a + b",
        data=coded,
        method="lda",
        control=CV3,
        seed=1,
        task="classification",
        **kwargs,
    )
    assert res.metric == "Accuracy"  # a regression would be scored by RMSE
    assert set(res.predict(coded.head(20)).astype(str)) <= {"1", "2", "10"}


def _config(tmp_path: Path, table: pd.DataFrame, body: str) -> Path:
    table.to_csv(tmp_path / "d.csv", index=False)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data: d.csv\nformula: code ~ a + b\n{body}")
    return cfg


def test_a_config_takes_task_at_top_level_and_per_fit(tmp_path, table):
    cfg = _config(
        tmp_path,
        table,
        "task: classification\n"
        "partition: {p: 0.8, seed: 2}\n"
        "fits:\n"
        "  cls: {method: lda, control: {method: cv, number: 3}, seed: 1}\n"
        "  reg: {method: lm, control: {method: cv, number: 3}, seed: 1, task: regression}\n",
    )
    exp = parse_experiment(cfg.read_text(), cfg)
    cls, reg = exp.fits["cls"]["plan"], exp.fits["reg"]["plan"]
    assert cls.dataset.mode == "classification" and cls.dataset.levels == ("0", "1", "2")
    assert reg.dataset.mode == "regression"
    # the partition is stratified on the classes: each class keeps about 80 % of its rows
    kept = exp.training["code"].value_counts() / table["code"].value_counts()
    assert ((kept - 0.8).abs() < 0.1).all()


def test_a_config_task_is_checked(tmp_path, table):
    cfg = _config(tmp_path, table, "task: classify\nfits:\n  f: {method: lda}\n")
    with pytest.raises(ValueError, match="task: task='classify' is not one of"):
        parse_experiment(cfg.read_text(), cfg)
    cfg = _config(tmp_path, table, "fits:\n  f: {method: lda, task: clas}\n")
    with pytest.raises(ValueError, match="fit 'f': task='clas' is not one of"):
        parse_experiment(cfg.read_text(), cfg)
    cfg = _config(tmp_path, table, "tsk: classification\nfits:\n  f: {method: lda}\n")
    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['tsk'\]"):
        parse_experiment(cfg.read_text(), cfg)


# -- 2. id, free-text, mostly-numeric and empty predictor columns --------------------------------


def test_an_id_column_is_refused_and_leaving_it_out_works(table, fits):
    ided = table.assign(id=[f"patient-{i}" for i in range(60)])
    msg = _refused(
        fits,
        r"predictor column 'id' is an id or free text \(60 distinct values in "
        r"60 non-missing rows\)",
        "f ~ .",
        data=ided,
        method="lda",
        control=CV3,
    )
    assert "df.drop(columns=['id'])" in msg and "'- id' in the formula" in msg
    plan_train("f ~ . - id", data=ided, method="lda", control=CV3)


def test_every_offending_column_is_named_in_one_error(table, fits):
    bad = table.assign(
        note=[f"free text number {i}" for i in range(60)],
        empty=None,
        gone=pd.Series([None] * 60, dtype="string"),
        price=[str(round(v, 2)) for v in np.linspace(1, 9, 60)],
    )
    bad["price"] = bad["price"].astype(object)
    bad.loc[[3, 7], "price"] = "n/a"
    msg = _refused(
        fits,
        "4 predictor columns cannot be used as they are",
        "f ~ .",
        data=bad,
        method="lda",
        control=CV3,
    )
    lines = msg.splitlines()[1:]
    assert len(lines) == 4
    assert "'note' is an id or free text" in lines[0]
    assert "'empty' is empty (all 60 values missing)" in lines[1]
    assert "'gone' is empty (all 60 values missing)" in lines[2]
    assert "'price' is numeric but for 2 of its 60 values: 'n/a' (2)" in lines[3]
    assert "pd.to_numeric(df['price'], errors='coerce')" in lines[3]


def test_an_all_none_column_says_empty_not_fewer_than_two_levels(table, fits):
    msg = _refused(
        fits,
        "predictor column 'e' is empty",
        "f ~ .",
        data=table.assign(e=None),
        method="lda",
        control=CV3,
    )
    assert "fewer than 2 levels" not in msg
    # the X, y form too
    X = table[["a", "b"]].assign(e=None)
    _refused(fits, "predictor column 'e' is empty", X, table["f"], method="lda", control=CV3)


def test_numbers_stored_as_text_are_told_to_convert(table, fits):
    msg = _refused(
        fits,
        "predictor column 'n' holds numbers stored as text",
        "f ~ .",
        data=table.assign(n=[f"{v:.4f}" for v in table["a"]]),
        method="lda",
        control=CV3,
    )
    assert "pd.to_numeric(df['n'])" in msg


@pytest.mark.filterwarnings("ignore:predictor.s. constant in the training rows")
@pytest.mark.parametrize(
    ("levels", "rows", "refused"), [(11, 12, True), (11, 13, False), (10, 10, False)]
)
def test_the_id_threshold(levels, rows, refused):
    df = pd.DataFrame(
        {
            "g": [f"g{i % levels}" for i in range(rows)],
            "a": np.arange(rows, dtype=float),
            "y": np.arange(rows, dtype=float) ** 1.5,
        }
    )
    if refused:
        with pytest.raises(ValueError, match="'g' is an id or free text"):
            plan_train("y ~ .", data=df, method="lm", control=CV3)
    else:
        plan = plan_train("y ~ .", data=df, method="lm", control=CV3)
        assert dict(plan.dataset.encoder.categorical)["g"] == tuple(
            sorted(f"g{i}" for i in range(levels))
        )


def test_a_category_id_column_is_refused_too(table, fits):
    cat = table.assign(id=pd.Categorical([f"r{i}" for i in range(60)]))
    _refused(fits, "'id' is an id or free text", "f ~ .", data=cat, method="lda", control=CV3)


@pytest.mark.parametrize(
    ("name", "formula"),
    [
        ("sonar", "Class ~ ."),
        ("bostonhousing", "medv ~ ."),
        ("glass", "Type ~ ."),
        ("breastcancer", "Class ~ ."),
    ],
)
def test_bundled_data_sets_still_pass(name, formula):
    data = lf.datasets.load(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nor does any of them warn about coded classes
        warnings.simplefilter("ignore", DuplicateRowsWarning)  # glass, breastcancer repeat rows
        plan = plan_train(formula, data=data, method="rpart", control=CV3, tune_length=1)
    assert plan.dataset.X.shape[0] == len(data)


# -- 3. duplicate column names ------------------------------------------------------------------


def test_duplicate_column_names_are_refused_in_every_form(table, fits):
    dup = pd.concat([table, table[["a"]]], axis=1)
    assert list(dup.columns).count("a") == 2
    msg = _refused(
        fits,
        r"data has duplicate column names: 'a' \(2 times\)",
        "f ~ .",
        data=dup,
        method="lda",
        control=CV3,
    )
    _refused(
        fits, r"the DataFrame has duplicate column names: 'a'", dup, "f", method="lda", control=CV3
    )
    X = pd.concat([table[["a", "b"]], table[["b"]]], axis=1)
    _refused(fits, r"X has duplicate column names: 'b'", X, table["f"], method="lda", control=CV3)
    assert "rename" in msg
    # 1 and "1" are one name once columns are read as text
    mixed = pd.DataFrame({1: table["a"], "1": table["b"], "f": table["f"]})
    _refused(fits, r"duplicate column names: '1'", "f ~ .", data=mixed, method="lda", control=CV3)


def test_predict_refuses_duplicate_column_names(table):
    res = train("f ~ a + b", data=table, method="lda", control=lf.Control(method="none"))
    new = pd.concat([table[["a", "b"]], table[["a"]]], axis=1)
    with pytest.raises(ValueError, match=r"new data has duplicate column names: 'a' \(2 times\)"):
        res.predict(new)
    with pytest.raises(ValueError, match="new data has duplicate column names"):
        res.predict_proba(new)
    assert len(res.predict(table[["a", "b"]])) == 60
