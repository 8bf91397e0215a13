"""The search space of one train() call: the model's default space (``Model.space``) updated by
the user's ``space={...}``, checked against the model's parameters before anything is fitted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..models.base import Model
from ..models.space import Choice, Range
from .plan import DataShape

__all__ = ["describe_space", "resolve_space"]


def resolve_space(
    model: Model, space: Mapping[str, Any] | None, shape: DataShape | None = None
) -> dict[str, Any]:
    """Every parameter of ``model`` -> a ``Range``, a ``Choice`` or one fixed value.

    The user's ``space`` (caret's dotted names accepted; a list means a choice, anything else
    not a Range or Choice a fixed value) replaces the model's default space name by name; the
    parameters neither gives take their declared defaults. Each error names the parameter and
    what is valid. A range above a data-dependent limit (mtry <= predictors, k <= rows) is
    refused when the user gave it and capped when it is the model's default.
    """
    if space is not None and not isinstance(space, Mapping):
        raise ValueError(f"space must be a dict of parameter -> range, got {space!r}")
    aliases = model.alias_map()
    given: dict[str, Any] = {}
    for k, v in (space or {}).items():
        if k not in aliases:
            raise ValueError(
                f"space names {k!r}, which is not a parameter of {model.name!r}; its "
                f"parameters are {model.param_names}"
            )
        if aliases[k] in given:
            raise ValueError(f"space gives {aliases[k]!r} twice (as {k!r} and another name)")
        given[aliases[k]] = v
    out: dict[str, Any] = {}
    params = {p.name: p for p in model.params}
    limits = {}
    if shape is not None:
        from ..models.base import param_bounds

        limits = param_bounds(model, shape.rows, shape.predictors)
    for name, p in params.items():
        user = name in given
        dim = given[name] if user else model.space.get(name, p.default)
        if dim is None:
            raise ValueError(
                f"space for {model.name!r} lacks {name!r}, which has no default: add it, "
                f"e.g. space={{{name!r}: lf.uniform(low, high)}}"
                + ("" if model.space else f" ({model.name!r} declares no default space)")
            )
        if isinstance(dim, list | tuple):
            dim = Choice(tuple(_py(v) for v in dim))
        if isinstance(dim, Range):
            dim.check(name)
            if p.kind == "cat":
                raise ValueError(
                    f"space {name!r}: {model.name!r}'s {name} is categorical; give a list of "
                    f"choices{_among(p.choices)}, not {dim.describe()}"
                )
            if p.kind == "int" and not dim.integer:
                raise ValueError(
                    f"space {name!r}: {model.name!r}'s {name} is a whole number; use "
                    f"lf.integer({dim.low:g}, {dim.high:g}{', log=True' if dim.log else ''})"
                )
            for end, v in (("low", dim.low), ("high", dim.high)):
                why = p.check(v)
                if why:
                    raise ValueError(f"space {name!r}: {end}={v!r} for {model.name!r} {why}")
            if name in limits:
                top, limit = limits[name]
                if dim.high > top:
                    if user or top < dim.low:
                        raise ValueError(
                            f"space {name!r}: high={dim.high:g} for {model.name!r} is more than "
                            f"the data allows ({shape.describe(limit) if shape else limit}: at "
                            f"most {top})"
                        )
                    dim = Range(dim.low, top, dim.log, dim.integer) if top > dim.low else top
        elif isinstance(dim, Choice):
            dim.check(name)
            for v in dim.values:
                why = p.check(v)
                if why:
                    raise ValueError(f"space {name!r}: choice {v!r} for {model.name!r} {why}")
                if not (v is None or isinstance(v, bool | int | float | str)):
                    raise ValueError(
                        f"space {name!r}: choice {v!r} must be a number, string, bool or None"
                    )
        else:
            dim = _py(dim)
            why = p.check(dim)
            if why:
                raise ValueError(f"space {name!r}: value {dim!r} for {model.name!r} {why}")
        out[name] = dim
    if not any(isinstance(d, Range | Choice) for d in out.values()):
        raise ValueError(
            f"the search space of {model.name!r} has nothing to search: every parameter is "
            "fixed; give ranges (lf.uniform, lf.loguniform, lf.integer) or lists of choices"
        )
    return out


def describe_space(space: Mapping[str, Any]) -> dict[str, str]:
    """Each parameter's dimension in words (for the stored config and printing)."""
    return {k: v.describe() if isinstance(v, Range | Choice) else repr(v) for k, v in space.items()}


def _among(choices: tuple[Any, ...]) -> str:
    return f" among {list(choices)}" if choices else ""


def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v
