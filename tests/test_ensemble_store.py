"""Ensembles in the experiment store: a YAML experiment's ensembles are built after its fits,
stored (JSON and the store's artifacts, no pickle), reported, and restored in a new process with
no member refitted and the same predictions; the Python path ``ens.save(store)`` is the same."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import leanfit as lf
from leanfit.experiment import load_experiment, run_experiment
from leanfit.restore import restore_ensemble, write_stored_report
from leanfit.store import Store, StoreError

CONFIG = """\
name: ens-sonar
data: sonar
formula: Class ~ .
partition: {p: 0.75, seed: 998}
controls:
  cv5: {method: cv, number: 5, class_probs: true, save_predictions: final}
  meta3: {method: cv, number: 3, class_probs: true}
fits:
  ldaFit: {method: lda, control: cv5, seed: 7}
  knnFit: {method: knn, control: cv5, grid: {k: [5, 9]}, seed: 7}
  rpartFit: {method: rpart, control: cv5, grid: {cp: [0.01]}, seed: 7}
ensembles:
  greedy: {members: [ldaFit, knnFit, rpartFit], method: caruana, iterations: 20}
  stacked:
    members: [ldaFit, knnFit, rpartFit]
    method: stack
    meta_control: meta3
    meta_args: {tune_length: 2}
    inner: 5
"""

FIT_COUNT = """\
import json, sys
import leanfit as lf
from leanfit.models import base
from leanfit.restore import restore_ensemble
from leanfit.store import Store

calls = []
for name in ("lda", "knn", "rpart", "glmnet"):
    cls = type(base.get_model(name))
    def counted(self, *a, _orig=cls.fit, _n=name, **k):
        calls.append(_n)
        return _orig(self, *a, **k)
    cls.fit = counted
rows = lf.datasets.load("sonar").iloc[:: int(sys.argv[2])]
out = {}
with Store.open(sys.argv[1]) as store:
    for name in ("greedy", "stacked"):
        ens = restore_ensemble(store, name, experiment="ens-sonar")
        out[name] = {"proba": ens.predict_proba(rows).to_numpy().tolist(),
               "pred": [str(v) for v in ens.predict(rows)],
               "weights": None if ens.weights is None else ens.weights.tolist(),
               "estimate": ens.estimate}
out["fits"] = list(calls)
lf.train(rows, "Class", method="lda", control=lf.Control(method="none"))
out["probe"] = calls  # the counter sees a fit
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> dict:
    """The config above run once into its own store."""
    tmp = tmp_path_factory.mktemp("ens")
    cfg = tmp / "c.yaml"
    cfg.write_text(CONFIG)
    url = f"sqlite:///{tmp / 'store.db'}"
    exp = load_experiment(cfg, verbose=False)
    exp.output = None
    exp.report = tmp / "report.html"
    lines: list[str] = []
    with Store.open(url) as store:
        summary = run_experiment(exp, echo=lines.append, store=store)
    return {"url": url, "exp": exp, "summary": summary, "tmp": tmp, "echo": "\n".join(lines)}


@pytest.fixture(scope="module")
def restored(stored) -> dict:
    """Both stored ensembles restored and predicting in a new process, fits counted."""
    code = subprocess.run(
        [sys.executable, "-c", FIT_COUNT, stored["url"], "3"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert code.returncode == 0, code.stderr[-3000:]
    return json.loads(code.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", ["greedy", "stacked"])
def test_experiment_ensemble_restored_in_a_new_process_predicts_the_same(stored, restored, name):
    ens = stored["exp"].ensemble_results[name]
    rows = lf.datasets.load("sonar").iloc[::3]
    assert restored["fits"] == []  # no member (nor the meta-model) refitted
    assert restored["probe"] == ["lda"]
    got = restored[name]
    np.testing.assert_array_equal(np.asarray(got["proba"]), ens.predict_proba(rows).to_numpy())
    assert got["pred"] == [str(v) for v in ens.predict(rows)]
    assert got["estimate"] == ens.estimate
    if name == "greedy":
        assert got["weights"] == ens.weights.tolist()


def test_ensemble_built_from_the_experiments_fits(stored):
    """The experiment's ensemble is lf.ensemble on its fits with the configured settings."""
    exp = stored["exp"]
    fits = {k: exp.results[k] for k in ("ldaFit", "knnFit", "rpartFit")}
    direct = lf.ensemble(fits, method="caruana", iterations=20)
    got = exp.ensemble_results["greedy"]
    np.testing.assert_array_equal(got.weights.to_numpy(), direct.weights.to_numpy())
    pd.testing.assert_frame_equal(got.results, direct.results)
    entry = stored["summary"]["ensembles"]["greedy"]
    assert entry["weights"] == pytest.approx(direct.weights.to_dict())
    assert "== ensemble greedy" in stored["echo"]


def test_stored_ensemble_record_is_json_and_artifacts_no_pickle(stored):
    with Store.open(stored["url"]) as store:
        rid = stored["summary"]["ensembles"]["stacked"]["run_id"]
        info = store.run(rid)
        assert info["config"]["kind"] == "ensemble"
        ids = {f: e["run_id"] for f, e in stored["summary"]["fits"].items()}
        assert info["config"]["members"] == {k: ids[k] for k in ("ldaFit", "knnFit", "rpartFit")}
        arts = info["artifacts"]
        assert arts["ensemble"]["fmt"] == "json"
        assert arts["meta_model"]["fmt"].startswith(("skops", "lightgbm", "xgboost"))
        rec = json.loads(store.load_artifact(rid, "ensemble"))
        assert rec["combiner"]["meta"]["method"] == "glmnet"
        ctl = rec["combiner"]["meta"]["control"]  # tuned on the 5 inner folds (shared folds)
        assert ctl["number"] == 5 and len(ctl["index"]) == 5 and ctl["class_probs"] is True


def test_an_ensemble_run_is_not_taken_for_a_fit(stored):
    from leanfit.restore import restore_fit, stored_comparison

    rid = stored["summary"]["ensembles"]["greedy"]["run_id"]
    fit_id = stored["summary"]["fits"]["ldaFit"]["run_id"]
    with Store.open(stored["url"]) as store:
        with pytest.raises(StoreError, match="is an ensemble, not a fit: restore it with"):
            restore_fit(store, rid)
        with pytest.raises(StoreError, match="is an ensemble: its inner-fold estimate"):
            stored_comparison(store, [fit_id, rid])
        with pytest.raises(StoreError, match="is a fit, not an ensemble"):
            restore_ensemble(store, fit_id)


def test_report_shows_ensembles_live_and_from_the_store(stored, tmp_path):
    live = Path(stored["exp"].report).read_text()
    assert "Ensemble greedy" in live and "Ensemble stacked" in live
    out = tmp_path / "r.html"
    with Store.open(stored["url"]) as store:
        write_stored_report(store, "ens-sonar", out)
    text = out.read_text()
    assert "Ensemble greedy" in text and "Ensemble stacked" in text
    assert "stored as run" in text


def test_python_save_and_restore_with_plans(tmp_path):
    """lf.ensemble(...).save(store) for members trained with train(store=) in Python; restore
    needs their plans (as restore_fit does) and refits nothing."""
    from leanfit.tuning.train import plan_train

    df = lf.datasets.load("bostonhousing").iloc[:200]
    ctl = lf.Control(method="cv", number=4, save_predictions="final", seed=2)
    kw = {
        "lm": {"method": "lm"},
        "knn": {"method": "knn", "grid": {"k": [7]}},
    }
    url = f"sqlite:///{tmp_path / 's.db'}"
    with Store.open(url) as store:
        fits = {
            n: lf.train(df, "medv", control=ctl, store=store, experiment="py", fit=n, **a)
            for n, a in kw.items()
        }
        ens = lf.ensemble(fits, method="stack", meta="lm", inner=4)
        rid = ens.save(store, "stk")
        assert ens.store_run == {"run_id": rid, "experiment": "py", "name": "stk"}
    with Store.open(url) as store:
        with pytest.raises(StoreError, match="train\\(\\) in Python"):
            restore_ensemble(store, rid)
        plans = {
            fits[n].store_run["run_id"]: plan_train(df, "medv", control=ctl, **a)
            for n, a in kw.items()
        }
        back = restore_ensemble(store, "stk", experiment="py", plans=plans)
    np.testing.assert_array_equal(back.predict(df).to_numpy(), ens.predict(df).to_numpy())
    pd.testing.assert_frame_equal(back.results, ens.results)


def test_bad_ensemble_configs_are_refused_naming_the_problem(tmp_path):
    base = textwrap.dedent(
        """\
        name: bad
        data: sonar
        formula: Class ~ .
        controls:
          keep: {method: cv, number: 3, save_predictions: final}
          drop: {method: cv, number: 3}
        fits:
          a: {method: lda, control: keep, seed: 1}
          b: {method: lda, control: drop, seed: 1}
          c: {method: lda, control: keep, seed: 2}
        """
    )
    cases = {
        "{e: {members: [a]}}": "at least two fits",
        "{e: {members: [a, zz]}}": "member 'zz' is not a fit",
        "{e: {members: [a, b]}}": "save_predictions: final",
        "{e: {members: [a, c]}}": "different rows",
        "{e: {members: [a, c], method: mean}}": "not one of",
        "{a: {members: [a, c]}}": "taken by a fit",
        "{e: {members: [a, c], colour: red}}": "unknown key",
    }
    for i, (ens, msg) in enumerate(cases.items()):
        cfg = tmp_path / f"c{i}.yaml"
        cfg.write_text(base + f"ensembles: {ens}\n")
        with pytest.raises(ValueError, match=msg):
            load_experiment(cfg, verbose=False)


def test_a_member_not_in_the_store_is_refused(tmp_path):
    df = lf.datasets.load("sonar")
    ctl = lf.Control(method="cv", number=3, save_predictions="final", seed=1)
    fits = [
        lf.train(df, "Class", method="lda", control=ctl),
        lf.train(df, "Class", method="nb", control=ctl),
    ]
    ens = lf.ensemble(fits, method="average", weights="equal", inner=3)
    with (
        Store.open(f"sqlite:///{tmp_path / 's.db'}") as store,
        pytest.raises(StoreError, match="member 'lda' is not a stored run"),
    ):
        ens.save(store, "e")
