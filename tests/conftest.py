"""Shared fixtures for the train() / CLI tests: the seed's Sonar split and instrumented models."""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

import leanfit as lf
from leanfit.models.base import CLASSIFICATION, Model, Param, TrainingData
from leanfit.models.boosting import GBM


@dataclass
class RecordingGBM(GBM):
    """gbm that records every fit: in ``calls`` (this process) and, if ``log`` is set, as one
    line per fit in that file (works when fits run in worker processes); ``pid_log`` likewise
    gets the process id of every fit, to tell which fits ran in worker processes; ``delay``
    seconds of sleep per fit give a starting worker time to take tasks; ``first_here`` seconds
    of sleep on the first fit in the process that made the model (a long task there)."""

    calls: list = field(default_factory=list)
    log: str | None = None
    pid_log: str | None = None
    delay: float = 0.0
    first_here: float = 0.0
    home: int = field(default_factory=os.getpid)

    def fit(self, data, params, subs, seed):
        self.calls.append(
            {"n": len(data.y), "params": dict(params), "subs": list(subs), "seed": seed}
        )
        if self.log:
            with open(self.log, "a") as f:
                f.write(f"{len(data.y)} {params['interaction_depth']}\n")
        if self.pid_log:
            with open(self.pid_log, "a") as f:
                f.write(f"{os.getpid()}\n")
        if self.delay:
            time.sleep(self.delay)
        if self.first_here and os.getpid() == self.home and len(self.calls) == 1:
            time.sleep(self.first_here)
        return super().fit(data, params, subs, seed)


@dataclass
class Centroid(Model):
    """A tiny nearest-centroid classifier with one parameter ``shrink`` in [0, 1].

    ``fail_on`` lists ``shrink`` values whose fit raises (on every resample, or only when the
    fitting rows number ``fail_rows``); ``warn_on`` those whose fit warns, under the same row
    condition; ``calls`` records every fit.
    """

    name: ClassVar[str] = "centroid"
    label: ClassVar[str] = "Nearest Centroid (test model)"
    modes: ClassVar[tuple[str, ...]] = (CLASSIFICATION,)
    params: ClassVar[tuple[Param, ...]] = (Param("shrink", "float", 0.0, 1.0),)
    complexity_order: ClassVar[tuple[tuple[str, bool], ...]] = (("shrink", False),)

    fail_on: tuple = ()
    fail_rows: int | None = None
    warn_on: tuple = ()
    calls: list = field(default_factory=list)

    def fit(self, data: TrainingData, params: dict[str, Any], subs, seed: int) -> Any:
        self.calls.append({"n": len(data.y), "params": dict(params)})
        s = float(params["shrink"])
        these_rows = self.fail_rows is None or len(data.y) == self.fail_rows
        if s in self.fail_on and these_rows:
            raise FloatingPointError(f"centroid cannot fit shrink={s}")
        if s in self.warn_on and these_rows:
            msg = f"centroid: shrink={s} on {len(data.y)} rows"
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
        grand = data.X.mean(axis=0)
        cents = np.stack([data.X[data.y == k].mean(axis=0) for k in range(data.n_classes)])
        return (1 - s) * cents + s * grand

    def predict_proba(self, fitted: Any, X: np.ndarray, subs) -> np.ndarray:
        d = ((X[:, None, :] - fitted[None, :, :]) ** 2).sum(axis=2)
        z = -(d - d.min(axis=1, keepdims=True))
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        return np.tile(p, (len(subs), 1, 1))


@pytest.fixture(scope="session")
def sonar() -> pd.DataFrame:
    return lf.datasets.load("sonar")


@pytest.fixture(scope="session")
def train_rows(sonar) -> np.ndarray:
    return lf.partition(sonar["Class"], p=0.75, seed=998)


@pytest.fixture(scope="session")
def training(sonar, train_rows) -> pd.DataFrame:
    """The seed's training set: 157 rows (84 M, 73 R), 60 predictors + Class."""
    return sonar.iloc[train_rows]


@pytest.fixture(scope="session")
def testing(sonar, train_rows) -> pd.DataFrame:
    return sonar.drop(sonar.index[train_rows])


@pytest.fixture(scope="session")
def small_grid() -> pd.DataFrame:
    """2 fit groups (interaction depth) x 3 sub-models (n_trees): 6 candidates."""
    return lf.expand_grid(
        interaction_depth=[1, 2], n_trees=[10, 20, 30], shrinkage=0.1, n_minobsinnode=10
    )


@pytest.fixture(scope="session")
def roc_control() -> lf.Control:
    return lf.Control(method="cv", number=5, class_probs=True, summary="two_class")


@pytest.fixture(scope="session")
def gbm_roc(training, small_grid, roc_control):
    """gbm on Sonar, 5-fold CV, ROC: the reference result several tests compare against."""
    return lf.train(
        "Class ~ .",
        data=training,
        method="gbm",
        grid=small_grid,
        control=roc_control,
        metric="ROC",
        seed=825,
    )


@pytest.fixture
def recording_gbm():
    return RecordingGBM()


@pytest.fixture
def centroid_cls():
    return Centroid


@pytest.fixture
def recording_gbm_cls():
    return RecordingGBM


@pytest.fixture
def fit_log(tmp_path) -> Path:
    return tmp_path / "fits.log"


@pytest.fixture(autouse=True)
def _private_store(tmp_path, monkeypatch):
    """Every test gets its own embedded experiment store (the CLI uses one by default)."""
    monkeypatch.setenv("LEANFIT_STORE", f"sqlite:///{tmp_path / 'leanfit.db'}")


@pytest.fixture
def fits(monkeypatch) -> list[str]:
    """Records the name of every fit of every registered model from now on (and still fits)."""
    from leanfit.models.base import registry

    calls: list[str] = []
    for cls in set(registry().values()):
        original = cls.fit

        def spy(self, data, params, subs, seed, _original=original):
            calls.append(self.name)
            return _original(self, data, params, subs, seed)

        monkeypatch.setattr(cls, "fit", spy)
    return calls
