"""Candidates whose fits fail in some resamples: counted (Resamples), kept out of the choice
unless allowed, and warned about — never ranked beside complete ones on a partial mean."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

import leanfit as lf
from leanfit.models.base import REGRESSION, Model, Param

N, K = 50, 5  # rows; user-given folds of 10 consecutive rows each
FOLDS = [np.arange(10 * k, 10 * (k + 1)) for k in range(K)]
INDEX = [np.setdiff1d(np.arange(N), f).tolist() for f in FOLDS]


@dataclass
class ShiftModel(Model):
    """Predicts the training mean plus ``shift``. Column ``id`` holds row numbers: the fit fails
    when any of rows 0 .. 10*fail-1 is held out, i.e. in the first ``fail`` folds."""

    name: ClassVar[str] = "shift_test"
    modes: ClassVar[tuple[str, ...]] = (REGRESSION,)
    probabilities: ClassVar[bool] = False
    params: ClassVar[tuple[Param, ...]] = (
        Param("shift", "float"),
        Param("fail", "int", low=0),
    )

    def fit(self, data: Any, params: dict[str, Any], subs: Any, seed: int) -> Any:
        ids = set(data.X[:, 0].astype(int).tolist())
        missing = [i for i in range(10 * int(params["fail"])) if i not in ids]
        if missing:
            raise RuntimeError(f"row {missing[0]} held out")
        return float(np.mean(data.y)) + float(params["shift"])

    def predict(self, fitted: Any, X: np.ndarray, subs: Any) -> np.ndarray:
        return np.full((len(subs), len(X)), fitted)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame({"id": np.arange(N), "y": rng.normal(0.0, 1.0, N)})


def _rmse_by_hand(y: np.ndarray, shift: float, folds: list[int]) -> list[float]:
    out = []
    for k in folds:
        te = FOLDS[k]
        tr = np.setdiff1d(np.arange(N), te)
        out.append(float(np.sqrt(np.mean((y[tr].mean() + shift - y[te]) ** 2))))
    return out


def _fit(data: pd.DataFrame, grid: dict[str, list[Any]], **control: Any) -> lf.TrainResult:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        res = lf.train(
            "y ~ .",
            data=data,
            method=ShiftModel(),
            grid=pd.DataFrame(grid),
            control=lf.Control(index=INDEX, **control),
            metric="RMSE",
            seed=1,
        )
    res.seen = [w for w in seen if issubclass(w.category, lf.IncompleteResamplesWarning)]
    return res


# shift 0 is the best model, but it fails in 4 of the 5 folds; shifts 2 and 3 are complete
GRID = {"shift": [0.0, 2.0, 3.0], "fail": [4, 0, 0]}


def test_resamples_column_counts_scored_resamples(data):
    res = _fit(data, GRID)
    r = res.results
    assert list(r.columns)[-1] == "Resamples"
    assert r["Resamples"].tolist() == [1, 5, 5]
    assert r["Resamples"].dtype == np.int64
    y = data["y"].to_numpy()
    # the incomplete candidate's mean covers only the fold it was scored on (the last one)
    assert r["RMSE"].iloc[0] == pytest.approx(_rmse_by_hand(y, 0.0, [4])[0], rel=1e-12)
    assert r["RMSE"].iloc[1] == pytest.approx(np.mean(_rmse_by_hand(y, 2.0, range(5))), rel=1e-12)
    assert np.isnan(r["RMSESD"].iloc[0])
    assert len(res.failures) == 4


def test_best_skips_incomplete_and_warns(data):
    res = _fit(data, GRID)
    r = res.results
    assert r["RMSE"].iloc[0] < r["RMSE"].iloc[1]  # the partial mean would win
    assert res.best_params == {"shift": 2.0, "fail": 0}
    assert len(res.seen) == 1
    msg = str(res.seen[0].message)
    assert "shift=0.0" in msg and "1 of 5" in msg and "select_incomplete" in msg
    text = repr(res)
    assert "Resamples" in text and "1 of 3 candidates were scored on fewer than all 5" in text
    assert "only complete candidates could be chosen" in text


def test_select_incomplete_allows_it_and_warns(data):
    res = _fit(data, GRID, select_incomplete=True)
    assert res.best_params == {"shift": 0.0, "fail": 4}
    assert len(res.seen) == 1
    assert "shift=0.0" in str(res.seen[0].message) and "1 of 5" in str(res.seen[0].message)
    assert "chosen candidate was scored on 1 of 5 (Control(select_incomplete=True))" in repr(res)


def test_complete_grid_gives_no_warning_and_no_note(data):
    res = _fit(data, {"shift": [0.0, 2.0], "fail": [0, 0]})
    assert res.results["Resamples"].tolist() == [5, 5]
    assert res.seen == [] and "Resamples" not in repr(res)
    assert res.best_params == {"shift": 0.0, "fail": 0}


def test_no_complete_candidate_picks_best_covered(data):
    # counts 3, 4, 4: shift 0 (3 folds) has the best mean, but the choice is among the 4s
    res = _fit(data, {"shift": [0.0, 3.0, 1.0], "fail": [2, 1, 1]})
    assert res.results["Resamples"].tolist() == [3, 4, 4]
    assert res.best_params == {"shift": 1.0, "fail": 1}
    assert len(res.seen) == 1
    assert "no candidate was scored on all 5" in str(res.seen[0].message)
    msg = str(res.seen[0].message)
    assert "(4 of 5 resamples)" in msg and "shift=1.0" in msg
    assert "row 0 (shift=0.0, fail=2), scored on 3, would have been chosen" in msg
    assert "chosen among the best-covered" in repr(res)


def test_one_se_uses_sd_and_count_of_best_row(data):
    # simplest first: shift 0.6 (complete), 0.05 (complete), 0.0 (fails in 2 folds: 3 of 5)
    res = _fit(data, {"shift": [0.6, 0.05, 0.0], "fail": [0, 0, 2]}, selection="one_se")
    y = data["y"].to_numpy()
    rmse = {s: _rmse_by_hand(y, s, range(5)) for s in (0.6, 0.05)}
    means = {s: np.mean(v) for s, v in rmse.items()}
    best = min(means, key=means.get)
    se = np.std(rmse[best], ddof=1) / np.sqrt(5)
    expected = 0 if means[0.6] <= means[best] + se else 1
    assert res.best_index == expected
    # on the whole table (incomplete row included) the best row's own SD and count are used
    r = res.results
    part = _rmse_by_hand(y, 0.0, [2, 3, 4])
    v = [means[0.6], means[0.05], np.mean(part)]
    np.testing.assert_allclose(r["RMSE"], v, rtol=1e-12)
    b = int(np.argmin(v))
    sd = np.std(rmse[[0.6, 0.05][b]], ddof=1) if b < 2 else np.std(part, ddof=1)
    cut = v[b] + sd / np.sqrt(5 if b < 2 else 3)
    assert lf.one_se(r, "RMSE", maximize=False) == next(i for i in range(3) if v[i] <= cut)


def test_tolerance_and_custom_rules_see_only_complete_rows(data):
    seen_rows: list[int] = []

    def last(results: pd.DataFrame, metric: str, maximize: bool) -> int:
        seen_rows.append(len(results))
        return len(results) - 1

    res = _fit(data, {"shift": [0.0, 2.0, 2.01], "fail": [4, 0, 0]}, selection=last)
    assert 2 in seen_rows and res.best_params["shift"] == 2.01  # the 2 complete rows
    shifts = [3.0, 2.02, 2.0, 0.0]
    tol = _fit(data, {"shift": shifts, "fail": [0, 0, 0, 4]}, selection="tolerance")
    y = data["y"].to_numpy()
    means = [np.mean(_rmse_by_hand(y, s, range(5))) for s in shifts[:3]]
    b = min(means)  # the 1-fold row (shift 0) is not the reference
    expected = next(i for i, m in enumerate(means) if (m - b) / b * 100 <= 1.5)
    assert expected == 1 and tol.best_index == expected
    assert len(tol.seen) == 1 and "shift=0.0" in str(tol.seen[0].message)


def test_update_reselects_with_the_same_rule(data):
    res = _fit(data, GRID)
    with pytest.warns(lf.IncompleteResamplesWarning, match="shift=0.0"):
        again = res.update(selection="best")
    assert again.best_params == {"shift": 2.0, "fail": 0}


def test_report_shows_column_and_note(data, tmp_path):
    res = _fit(data, GRID)
    text = lf.write_report(tmp_path / "r.html", "t", fits={"shift": res}).read_text()
    assert ">Resamples<" in text
    assert "1 of 3 candidates were scored on fewer than all 5 resamples" in text


def test_experiment_tolerance_pick_respects_completeness(data):
    from leanfit.experiment import Experiment, run_experiment
    from leanfit.tuning.train import plan_train

    grid = pd.DataFrame({"shift": [0.0, 2.0, 2.01], "fail": [4, 0, 0]})
    plan = plan_train(
        "y ~ .",
        data=data,
        method=ShiftModel(),
        grid=grid,
        control=lf.Control(index=INDEX),
        metric="RMSE",
        seed=1,
    )
    tol = {"metric": "RMSE", "tol": 1.5, "maximize": None}
    exp = Experiment(
        name="t",
        data=data,
        formula="y ~ .",
        training=data,
        testing=None,
        fits={"f": {"plan": plan, "tolerance": tol}},
        output=None,
    )
    out: list[str] = []
    with pytest.warns(lf.IncompleteResamplesWarning):
        summary = run_experiment(exp, echo=out.append)
    pick = summary["fits"]["f"]["tolerance_pick"]
    assert pick["shift"] == 2.0 and pick["Resamples"] == 5  # not the 1-fold shift 0


def test_control_refuses_one_se_without_an_sd():
    for method in ("loocv", "oob", "LOOCV"):
        with pytest.raises(ValueError, match="needs the SD of resampled scores.*pooled"):
            lf.Control(method=method, selection="one_se")
    with pytest.raises(ValueError, match="select_incomplete='yes'.*True or False"):
        lf.Control(select_incomplete="yes")


def test_one_se_with_a_single_resample_is_refused_before_fitting(data):
    called = []

    class Spy(ShiftModel):
        def fit(self, *a: Any, **k: Any) -> Any:
            called.append(1)
            return super().fit(*a, **k)

    with pytest.raises(ValueError, match="at least 2 resamples; this design has 1"):
        lf.train(
            "y ~ .",
            data=data,
            method=Spy(),
            grid=pd.DataFrame(GRID),
            control=lf.Control(index=INDEX[:1], selection="one_se"),
        )
    assert called == []
