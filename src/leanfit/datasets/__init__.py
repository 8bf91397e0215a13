"""Bundled data sets (exported from R's mlbench): ``load(name)`` returns a pandas DataFrame.

Factor columns come back as pandas categoricals with R's level order, so a formula or a
DataFrame + target treats them as R would (the outcome's first level is the event level).
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

# name -> (file, {factor column: levels or None for sorted}, description)
_SETS: dict[str, tuple[str, dict[str, list[str] | None], str]] = {
    "sonar": (
        "sonar.csv",
        {"Class": ["M", "R"]},
        "208 sonar returns x 60 energies; Class M(etal) / R(ock)",
    ),
    "breastcancer": (
        "breastcancer.csv",
        {"Class": ["benign", "malignant"]},
        "699 biopsies, 9 ordinal cell scores (Bare.nuclei has 16 missing), an Id "
        "column to exclude; Class benign / malignant",
    ),
    "bostonhousing": (
        "bostonhousing.csv",
        {"chas": ["0", "1"]},
        "506 tracts, 13 predictors (chas a factor); medv, a regression target",
    ),
    "glass": (
        "glass.csv",
        {"Type": None},
        "214 glass fragments, 9 chemical measurements; Type: 6 classes, one tiny",
    ),
    "letter": (
        "letterrecognition.csv.gz",
        {"lettr": None},
        "20 000 letter images x 16 features; lettr: 26 classes",
    ),
}
NAMES = tuple(_SETS)


def describe(name: str) -> str:
    """One line on what a bundled data set holds."""
    return _SETS[_check(name)][2]


def _check(name: str) -> str:
    if name not in _SETS:
        raise ValueError(f"unknown data set {name!r}; bundled: {list(NAMES)}")
    return name


def load(name: str) -> pd.DataFrame:
    """Load a bundled data set by name, factor columns as categoricals (R's levels)."""
    file, factors, _ = _SETS[_check(name)]
    with resources.files(__package__).joinpath(file).open("rb") as f:
        df = pd.read_csv(f, compression="gzip" if file.endswith(".gz") else None)
    for col, levels in factors.items():
        values = df[col].astype(str)
        df[col] = pd.Categorical(values, categories=levels or sorted(values.unique()))
    return df
