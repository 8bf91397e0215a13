"""Candidates, fit groups and tasks: what will be fitted, decided before anything is fitted.

Candidates that differ only in a model's sub-model parameters share one fit (caret's ``loop``):
the seed's 90-candidate gbm grid becomes 3 fit groups. A task is one fit group on one resample.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..models.base import Model, TrainingData, expand_grid


@dataclass(frozen=True)
class FitGroup:
    """Candidates scored from one fit: the shared parameters and one ``sub`` dict per candidate."""

    params: dict[str, Any]
    subs: list[dict[str, Any]]
    candidates: tuple[int, ...]


@dataclass(frozen=True)
class Task:
    """One fit group fitted on one resample's training rows and scored on its evaluation rows."""

    resample: int  # position in the Resamples; -1 for the apparent (all rows) fit
    group: int
    seed: int
    train: np.ndarray
    evals: dict[str, np.ndarray] = field(default_factory=dict)  # name -> rows to predict


def normalize_grid(model: Model, grid: Any) -> pd.DataFrame:
    """Accept a DataFrame or a dict of lists; map caret's dotted names; fill the columns left out
    with their parameters' defaults (``Param.default``); check names and values."""
    if isinstance(grid, Mapping):
        grid = expand_grid(**dict(grid))
    elif not isinstance(grid, pd.DataFrame):
        raise TypeError("grid must be a pandas DataFrame or a dict of lists (like expand_grid)")
    aliases = model.alias_map()
    unknown = [c for c in grid.columns if c not in aliases]
    if unknown:
        raise ValueError(
            f"grid column(s) {unknown} are not parameters of {model.name!r}; "
            f"its parameters are {model.param_names}"
        )
    grid = grid.rename(columns=aliases)
    defaults = {
        p.name: p.default for p in model.params if p.default is not None and p.name not in grid
    }
    if defaults:
        grid = grid.assign(**defaults)  # a column left out takes its parameter's default
    missing = [p for p in model.param_names if p not in grid.columns]
    if missing:
        required = [p.name for p in model.params if p.default is None]
        others = " (the others have defaults)" if len(required) < len(model.params) else ""
        raise ValueError(
            f"grid for {model.name!r} lacks column(s) {missing}; it needs all of {required}{others}"
        )
    grid = grid[model.param_names].drop_duplicates().reset_index(drop=True)
    if grid.empty:
        raise ValueError("grid has no rows")
    for p in model.params:
        for v in map(_py, grid[p.name].unique()):
            why = p.check(v)
            if why:
                raise ValueError(f"grid value {p.name}={v!r} for {model.name!r}: {why}")
    return grid


def candidates(
    model: Model,
    data: TrainingData,
    grid: Any,
    tune_length: int,
    search: str,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The tuning candidates, simplest first: the user's grid, the default grid or random draws."""
    if grid is None:
        if not isinstance(tune_length, int) or tune_length < 1:
            raise ValueError(f"tune_length={tune_length!r} must be a positive integer")
        if not model.params:
            grid = pd.DataFrame([{}])
        elif search == "random":
            grid = model.random_grid(data, tune_length, rng)
        else:
            grid = model.default_grid(data, tune_length)
    if not model.params:
        return pd.DataFrame(index=[0])
    grid = normalize_grid(model, grid)
    return model.sort_simplest_first(grid).reset_index(drop=True)


def fit_groups(model: Model, cands: pd.DataFrame) -> list[FitGroup]:
    """Group candidates that share every non-sub-model parameter into one fit."""
    sub = [p for p in model.submodel if p in cands.columns]
    fixed = [p for p in cands.columns if p not in sub]
    groups: dict[tuple, list[int]] = {}
    for i, row in enumerate(cands[fixed].itertuples(index=False, name=None)):
        groups.setdefault(tuple(_key(v) for v in row), []).append(i)
    records = [{k: _py(v) for k, v in r.items()} for r in cands.to_dict("records")]
    return [
        FitGroup(
            params=records[idx[0]],
            subs=[{p: records[i][p] for p in sub} for i in idx],
            candidates=tuple(idx),
        )
        for idx in groups.values()
    ]


def task_seed(seed: int, resample: int, group: int) -> int:
    """A per-task seed derived from the run seed: the same task gets the same seed anywhere."""
    ss = np.random.SeedSequence([seed, resample + 2, group])  # -2: final fit, -1: apparent
    return int(ss.generate_state(1, dtype=np.uint32)[0])


def _key(v: Any) -> Any:
    return ("nan",) if isinstance(v, float) and np.isnan(v) else v


def _py(v: Any) -> Any:
    """numpy scalars to plain Python values (clean dicts, stable hashing, readable output)."""
    return v.item() if isinstance(v, np.generic) else v
