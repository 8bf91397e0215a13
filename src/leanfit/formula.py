"""R model formulas beyond names, ``.``, ``+`` and ``-``, on formulaic (Wilkinson formulas).

``Class ~ a*b``, ``a:b``, ``(a+b+c)^2``, ``poly(x, 2)``, ``log(x)``, ``I(x^2)``,
``C(f, levels=[...])`` and ``- 1`` become a model matrix as R's ``model.matrix`` builds it
(treatment contrasts, first level the reference; no intercept column: models add their own).
A ``FormulaSpec`` is fitted on rows and re-applied to others: stateful terms (``poly``'s
orthogonalisation, ``center``, ``scale``) keep what they learned on the rows they were fitted on.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# Functions a formula may call, beyond formulaic's own transforms (C, I, poly, center, scale,
# standardize, bs, log, log2, log10, exp, ...): R's names for numpy's elementwise functions.
_FUNCTIONS: dict[str, Any] = {
    "sqrt": np.sqrt,
    "abs": np.abs,
    "log1p": np.log1p,
    "expm1": np.expm1,
    "sin": np.sin,
    "cos": np.cos,
    "tanh": np.tanh,
}
SUPPORTED = (
    "I",
    "C",
    "poly",
    "log",
    "log2",
    "log10",
    "exp",
    "center",
    "scale",
    "standardize",
    "bs",
    *_FUNCTIONS,
)
# A plain formula: names (or backquoted names), '.', '+', '-', '0' and '1' only; it keeps
# frame.parse_formula's encoding, which it has always had.
_PLAIN = re.compile(r"^\s*(?:[+-]?\s*(?:`[^`]*`|[A-Za-z_.][A-Za-z0-9_.]*|\.)\s*)+$")


def is_plain(rhs: str) -> bool:
    """Whether a right-hand side holds only names, ``.``, ``+`` and ``-`` (and no ``- 1``)."""
    return bool(_PLAIN.match(rhs))


def r_to_python(rhs: str) -> str:
    """R's syntax inside ``I(...)`` made Python's: ``^`` is a power there (``I(x^2)``)."""
    out, i = [], 0
    while i < len(rhs):
        m = re.match(r"I\s*\(", rhs[i:])
        if m and (i == 0 or not (rhs[i - 1].isalnum() or rhs[i - 1] in "_.")):
            depth, j = 0, i + m.end() - 1
            for k in range(j, len(rhs)):
                depth += {"(": 1, ")": -1}.get(rhs[k], 0)
                if depth == 0:
                    break
            out.append(rhs[i : k + 1].replace("^", "**"))
            i = k + 1
            continue
        out.append(rhs[i])
        i += 1
    return "".join(out)


def r_name(name: str) -> str:
    """formulaic's column name as R's model.matrix writes it: ``f[T.b]`` -> ``fb``,
    ``poly(x, 2)[1]`` -> ``poly(x, 2)1``, ``a:f[T.b]`` -> ``a:fb``."""
    parts = (re.sub(r"\[(?:T\.)?([^\[\]]*)\]$", r"\1", p) for p in name.split(":"))
    return ":".join(parts).replace(" ** ", "^")


@dataclass(frozen=True)
class FormulaSpec:
    """An R formula's right-hand side fitted on some rows (formulaic's ModelSpec)."""

    rhs: str  # as the user wrote it
    spec: Any  # formulaic.ModelSpec
    feature_names: tuple[str, ...]
    columns: tuple[str, ...]  # the data columns the formula reads, in data order
    stateful: bool  # holds terms that learn from the rows (poly, center, scale, ...)
    available: tuple[str, ...] = ()  # the columns '.' stood for when it was fitted

    def matrix(self, data: pd.DataFrame) -> np.ndarray:
        """The model matrix of ``data`` with what was learned at fit time (float, NaN kept)."""
        from formulaic.errors import DataMismatchWarning

        with warnings.catch_warnings():
            warnings.simplefilter("error", DataMismatchWarning)
            try:
                mm = self.spec.get_model_matrix(
                    data, output="pandas", na_action="ignore", context=dict(_FUNCTIONS)
                )
            except DataMismatchWarning as e:
                raise ValueError(f"formula '~ {self.rhs}': new data {_short(e)}") from None
            except Exception as e:
                raise ValueError(_explain(e, self.rhs, list(map(str, data.columns)))) from None
        mm = mm.drop(columns=[c for c in mm.columns if c == "Intercept"])
        return mm.to_numpy(dtype=float, na_value=np.nan)

    def refit(self, data: pd.DataFrame) -> FormulaSpec:
        """The same formula fitted on other rows (a resample's training rows)."""
        return fit_formula(self.rhs, data, target=None)


def fit_formula(rhs: str, data: pd.DataFrame, target: str | None) -> FormulaSpec:
    """Fit the right-hand side ``rhs`` on ``data``; an unknown column or function is named,
    with the columns and functions that would be valid."""
    from formulaic import Formula

    columns = [str(c) for c in data.columns]
    frame = data.drop(columns=[target]) if target is not None and target in columns else data
    text = r_to_python(rhs)
    _check_poly(rhs, frame)
    try:
        variables = {"__formulaic_variables_available__": list(map(str, frame.columns))}
        formula = Formula(text, _context={**variables, **_FUNCTIONS})
        mm = formula.get_model_matrix(
            frame, output="pandas", na_action="ignore", context=dict(_FUNCTIONS)
        )
    except Exception as e:
        raise ValueError(_explain(e, rhs, [c for c in columns if c != target])) from None
    spec = mm.model_spec
    names = [c for c in mm.columns if c != "Intercept"]
    if not names:
        raise ValueError(f"formula '~ {rhs}' leaves no predictor columns")
    used = set(map(str, spec.required_variables))
    if target is not None and target in used:
        raise ValueError(f"formula '~ {rhs}' uses the target {target!r} as a predictor")
    return FormulaSpec(
        rhs=rhs,
        spec=spec,
        feature_names=tuple(r_name(n) for n in names),
        columns=tuple(c for c in columns if c in used),
        stateful=bool(dict(spec.transform_state)),
        available=tuple(map(str, frame.columns)),
    )


# ---------------------------------------------------------------------------------------------
# the fitted state as JSON (bundles store no pickle): formula text, structure, learned state

STATE_VERSION = 1


def formula_state(fs: FormulaSpec) -> dict[str, Any]:
    """What ``fs`` learned, as plain JSON: the formula as written and the columns '.' stood
    for, formulaic's column structure (which factor is coded in reduced rank), each stateful
    transform's fitted state (poly's alpha and norms, center's mean, bs's knots...) and each
    factor's levels and contrasts. A state holding anything else is refused, naming it."""
    sp = fs.spec
    structure = [
        {
            "term": str(s.term),
            "scoped": [
                {
                    "factors": [[str(f.factor.expr), bool(f.reduced)] for f in st.factors],
                    "scale": _encode(st.scale, "a term's scale"),
                }
                for st in s.scoped_terms
            ],
            "columns": [str(c) for c in s.columns],
        }
        for s in (sp.structure or [])
    ]
    return {
        "version": STATE_VERSION,
        "rhs": fs.rhs,
        "available": list(fs.available),
        "columns": list(fs.columns),
        "feature_names": list(fs.feature_names),
        "stateful": fs.stateful,
        "materializer": str(sp.materializer),
        "ensure_full_rank": bool(sp.ensure_full_rank),
        "na_action": str(sp.na_action.value),
        "cluster_by": str(sp.cluster_by.value),
        "structure": structure,
        "transform_state": {
            str(k): _encode(v, f"the state of {k}") for k, v in dict(sp.transform_state).items()
        },
        "encoder_state": {
            str(k): _encode(v, f"the encoding of {k}") for k, v in dict(sp.encoder_state).items()
        },
    }


def formula_from_state(state: dict[str, Any]) -> FormulaSpec:
    """The FormulaSpec ``formula_state`` described, rebuilt without refitting anything; a
    state that does not describe one is a ValueError saying why."""
    from formulaic.errors import FormulaicError

    try:
        return _from_state(state)
    except (KeyError, TypeError, IndexError, AttributeError, FormulaicError) as e:
        raise ValueError(f"the stored formula state is malformed ({type(e).__name__}: {e})") from e


def _from_state(state: dict[str, Any]) -> FormulaSpec:
    from formulaic import Formula, ModelSpec
    from formulaic.materializers.base import EncodedTermStructure
    from formulaic.materializers.types import ScopedFactor, ScopedTerm

    if state.get("version") != STATE_VERSION:
        raise ValueError(f"formula state version {state.get('version')!r}, not {STATE_VERSION}")
    rhs = str(state["rhs"])
    variables = {"__formulaic_variables_available__": list(state["available"])}
    formula = Formula(r_to_python(rhs), _context={**variables, **_FUNCTIONS})
    terms = {str(t): t for t in formula}
    factors = {str(f.expr): f for t in formula for f in t.factors}
    structure = []
    for entry in state["structure"]:
        name = str(entry["term"])
        if name not in terms:
            raise ValueError(f"formula '~ {rhs}' has no term {name!r}")
        scoped = []
        for st in entry["scoped"]:
            missing = [e for e, _ in st["factors"] if e not in factors]
            if missing:
                raise ValueError(f"formula '~ {rhs}' has no factor(s) {missing}")
            scoped.append(
                ScopedTerm(
                    [ScopedFactor(factors[e], reduced=bool(r)) for e, r in st["factors"]],
                    scale=_decode(st["scale"]),
                )
            )
        structure.append(EncodedTermStructure(terms[name], scoped, list(entry["columns"])))
    spec = ModelSpec(
        formula=formula,
        materializer=str(state["materializer"]),
        ensure_full_rank=bool(state["ensure_full_rank"]),
        na_action=state["na_action"],
        output="pandas",
        cluster_by=state["cluster_by"],
        structure=structure,
        transform_state={k: _decode(v) for k, v in state["transform_state"].items()},
        encoder_state={k: _decode(v) for k, v in state["encoder_state"].items()},
    )
    return FormulaSpec(
        rhs=rhs,
        spec=spec,
        feature_names=tuple(map(str, state["feature_names"])),
        columns=tuple(map(str, state["columns"])),
        stateful=bool(state["stateful"]),
        available=tuple(map(str, state["available"])),
    )


def _contrast_classes() -> dict[str, Any]:
    from formulaic.transforms import contrasts as c

    return {
        k.__name__: k
        for k in (
            c.TreatmentContrasts,
            c.SASContrasts,
            c.SumContrasts,
            c.HelmertContrasts,
            c.DiffContrasts,
            c.PolyContrasts,
        )
    }


def _encode(v: Any, what: str) -> Any:
    """``v`` as tagged JSON (dict keys keep their type, tuples stay tuples, arrays their
    dtype); a value of any other type is refused, naming ``what`` holds it."""
    import dataclasses
    import enum

    from formulaic.transforms.contrasts import ContrastsState

    if v is None or isinstance(v, bool | str):
        return v
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, int | np.integer) and not isinstance(v, enum.Enum):
        return int(v)
    if isinstance(v, float | np.floating):
        return {"float": repr(float(v))}  # exact, and NaN / inf survive JSON
    if isinstance(v, list):
        return [_encode(x, what) for x in v]
    if isinstance(v, tuple):
        return {"tuple": [_encode(x, what) for x in v]}
    if isinstance(v, dict):
        return {"dict": [[_encode(k, what), _encode(x, what)] for k, x in v.items()]}
    if isinstance(v, np.ndarray) and v.dtype.kind in "biuf":
        return {
            "ndarray": [_encode(x, what) for x in v.ravel().tolist()],
            "dtype": v.dtype.str,
            "shape": list(v.shape),
        }
    if isinstance(v, enum.Enum) and type(v).__module__.startswith("formulaic"):
        return {"enum": f"{type(v).__module__}:{type(v).__qualname__}", "value": v.value}
    if isinstance(v, ContrastsState):
        return {"contrasts_state": [_encode(v.contrasts, what), _encode(v.levels, what)]}
    if type(v).__name__ in _contrast_classes() and dataclasses.is_dataclass(v):
        fields = {f.name: _encode(getattr(v, f.name), what) for f in dataclasses.fields(v)}
        return {"contrasts": type(v).__name__, "fields": fields}
    raise ValueError(
        f"{what} holds a {type(v).__module__}.{type(v).__qualname__}, which cannot be stored "
        "without pickle"
    )


def _decode(v: Any) -> Any:
    """The value ``_encode`` tagged."""
    import importlib

    from formulaic.transforms.contrasts import ContrastsState

    if isinstance(v, list):
        return [_decode(x) for x in v]
    if not isinstance(v, dict):
        return v
    if "float" in v:
        return float(v["float"])
    if "tuple" in v:
        return tuple(_decode(x) for x in v["tuple"])
    if "dict" in v:
        return {_decode(k): _decode(x) for k, x in v["dict"]}
    if "ndarray" in v:
        flat = [_decode(x) for x in v["ndarray"]]
        return np.asarray(flat, dtype=np.dtype(v["dtype"])).reshape(v["shape"])
    if "enum" in v:
        module, name = str(v["enum"]).split(":")
        if not module.startswith("formulaic"):
            raise ValueError(f"formula state names {module!r}, not a formulaic type")
        cls: Any = importlib.import_module(module)
        for part in name.split("."):
            cls = getattr(cls, part)
        return cls(v["value"])
    if "contrasts_state" in v:
        contrasts, levels = (_decode(x) for x in v["contrasts_state"])
        return ContrastsState(contrasts, levels)
    if "contrasts" in v:
        classes = _contrast_classes()
        if v["contrasts"] not in classes:
            raise ValueError(f"formula state names contrasts {v['contrasts']!r}")
        return classes[v["contrasts"]](**{k: _decode(x) for k, x in v["fields"].items()})
    raise ValueError(f"formula state holds an unknown value {sorted(v)}")


def formula_variables(rhs: str, columns: list[str], target: str) -> list[str]:
    """The data columns a right-hand side reads (``.`` is every column but the target); an
    unknown name is refused before any data is touched, with the valid columns."""
    from formulaic import Formula

    others = [c for c in columns if c != target]
    context = {"__formulaic_variables_available__": others, **_FUNCTIONS}
    try:
        names = Formula(r_to_python(rhs), _context=context).required_variables
    except Exception as e:
        raise ValueError(_explain(e, rhs, others)) from None
    unknown = sorted(str(n) for n in names if str(n) not in columns and str(n) not in _FUNCTIONS)
    if unknown:
        raise ValueError(_unknown(unknown[0], rhs, others))
    used = {str(n) for n in names}
    if target in used:
        raise ValueError(f"formula '~ {rhs}' uses the target {target!r} as a predictor")
    return [c for c in others if c in used]


_POLY = re.compile(r"(?<![A-Za-z0-9_.])poly\(\s*`?([^,`]+?)`?\s*,\s*(?:degree\s*=\s*)?(\d+)")


def _check_poly(rhs: str, data: pd.DataFrame) -> None:
    """Refuse ``poly(x, k)`` with k at or above x's distinct values (R's 'degree' must be less
    than number of unique points): the basis would be singular."""
    for name, k in _POLY.findall(rhs):
        name = name.strip()
        if name in data.columns:
            distinct = int(pd.Series(data[name]).nunique())
            if int(k) >= distinct:
                raise ValueError(
                    f"formula '~ {rhs}': poly({name}, {k}) needs degree below the number of "
                    f"distinct values of {name!r} ({distinct} in these rows); use degree "
                    f"{max(distinct - 1, 1)} or less"
                )


def _short(e: BaseException) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def _unknown(name: str, rhs: str, columns: list[str]) -> str:
    """A name the formula uses that is neither a column nor a supported function."""
    shown = columns[:30] + (["..."] if len(columns) > 30 else [])
    valid = f"columns: {shown}; functions: {', '.join(SUPPORTED)}"
    if re.search(rf"(?<![\w.]){re.escape(name)}\s*\(", rhs):
        return f"formula '~ {rhs}' calls {name!r}, which is not a supported function ({valid})"
    return f"formula '~ {rhs}' names column {name!r}, which data does not have ({valid})"


def _explain(e: BaseException, rhs: str, columns: list[str]) -> str:
    """A formulaic error as leanfit says it: what is at fault and what would be valid."""
    text = str(e)
    shown = columns[:30] + (["..."] if len(columns) > 30 else [])
    valid = f"columns: {shown}; functions: {', '.join(SUPPORTED)}"
    missing = re.search(r"`([^`]+)` is not present in the dataset", text)
    if missing:
        return _unknown(missing.group(1), rhs, columns)
    unknown = re.search(r"name '([^']+)' is not defined", text)
    if unknown:
        return _unknown(unknown.group(1), rhs, columns)
    return f"formula '~ {rhs}' cannot be read: {_short(e)} ({valid})"
