"""Search spaces: the ranges Bayesian and genetic search draw a model's parameters from.

A dimension is a numeric ``Range`` (uniform or log scale, real or whole numbers) or a
``Choice`` among values. Models declare a default space (``Model.space``); a user's
``train(..., space={...})`` replaces it parameter by parameter. Lives beside the models (not in
tuning/) because the models declare their spaces with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["Choice", "Range", "choice", "integer", "loguniform", "uniform"]


@dataclass(frozen=True)
class Range:
    """Numbers from ``low`` to ``high`` (both included), on a log scale when ``log``; whole
    numbers when ``integer``."""

    low: float
    high: float
    log: bool = False
    integer: bool = False

    def check(self, name: str) -> None:
        """Raise a ValueError naming ``name`` when the range is empty, inverted, not numeric, or
        on a log scale over values that are not all positive."""
        kind = ("lf.integer" if self.integer else "lf.uniform") if not self.log else "log scale"
        for end, v in (("low", self.low), ("high", self.high)):
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ValueError(
                    f"search space {name!r}: {end}={v!r} must be a finite number ({kind})"
                )
            if self.integer and v != int(v):
                raise ValueError(
                    f"search space {name!r}: {end}={v!r} must be a whole number (lf.integer)"
                )
        if self.low >= self.high:
            what = "empty" if self.low == self.high else "inverted"
            raise ValueError(
                f"search space {name!r}: the range [{self.low}, {self.high}] is {what}; "
                "low must be below high (a single value: pass it as is, not as a range)"
            )
        if self.log and self.low <= 0:
            raise ValueError(
                f"search space {name!r}: a log scale needs low > 0, got [{self.low}, "
                f"{self.high}]; use lf.uniform (or lf.integer without log) to include "
                f"{self.low}, or start the range above 0"
            )

    def describe(self) -> str:
        what = "integer" if self.integer else "uniform"
        return f"{what}({self.low:g}, {self.high:g}{', log' if self.log else ''})"


@dataclass(frozen=True)
class Choice:
    """One of ``values`` (categorical: no order is assumed)."""

    values: tuple[Any, ...]

    def check(self, name: str) -> None:
        if not self.values:
            raise ValueError(f"search space {name!r}: a choice needs at least one value, got []")
        if len(set(map(repr, self.values))) < len(self.values):
            raise ValueError(f"search space {name!r}: the choices {list(self.values)} repeat")

    def describe(self) -> str:
        return f"choice({', '.join(map(repr, self.values))})"


def uniform(low: float, high: float) -> Range:
    """Real numbers spread evenly from ``low`` to ``high``."""
    return Range(low, high)


def loguniform(low: float, high: float) -> Range:
    """Real numbers spread evenly on a log scale from ``low`` to ``high`` (both > 0): as many
    draws between 0.001 and 0.01 as between 0.01 and 0.1 (learning rates, penalties)."""
    return Range(low, high, log=True)


def integer(low: int, high: int, log: bool = False) -> Range:
    """Whole numbers from ``low`` to ``high``, on a log scale with ``log=True``."""
    return Range(low, high, log=log, integer=True)


def choice(*values: Any) -> Choice:
    """One of the given values (a list in a space means the same)."""
    return Choice(tuple(values))
