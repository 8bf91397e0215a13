"""Bundled data sets (exported from R's mlbench): ``load("sonar")`` returns a pandas DataFrame."""

from __future__ import annotations

from importlib import resources

import pandas as pd

NAMES = ("sonar",)


def load(name: str) -> pd.DataFrame:
    """Load a bundled data set by name; the outcome column is categorical like R's factor."""
    if name not in NAMES:
        raise ValueError(f"unknown data set {name!r}; bundled: {list(NAMES)}")
    with resources.files(__package__).joinpath(f"{name}.csv").open("rb") as f:
        df = pd.read_csv(f)
    if name == "sonar":
        df["Class"] = pd.Categorical(df["Class"], categories=["M", "R"])
    return df
