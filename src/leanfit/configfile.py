"""Reading the files a user names (YAML configs, CSV data) with one clear error per mistake.

A directory, a binary file, text that is not UTF-8, malformed YAML (with its line and column) or
a CSV without rows each fail with one ``ValueError`` naming the file, never a parser's traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_SNIFF = 8192  # bytes looked at for a NUL, the mark of a binary file


def _not_text(raw: bytes, label: str) -> str | None:
    """Why ``raw`` (the bytes of the file ``label`` names) is not UTF-8 text, naming the byte and
    line; else None."""
    if b"\x00" in raw[:_SNIFF]:
        return f"{label} is a binary file, not text"
    try:
        raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        return (
            f"{label} is not UTF-8 text (byte 0x{raw[e.start]:02x} on line {line}); "
            "save it as UTF-8"
        )
    return None


def check_file(path: Path, label: str) -> None:
    """Refuse a path that is missing or a directory (``label`` names it), before any parser."""
    if not path.exists():
        raise FileNotFoundError(f"{label} does not exist")
    if path.is_dir():
        raise ValueError(f"{label} is a directory; give a file")


def read_text(path: str | Path, what: str = "config file") -> str:
    """The UTF-8 text of ``path``; one error if it is missing, a directory, binary or not UTF-8."""
    path = Path(path)
    label = f"{what} {str(path)!r}"
    check_file(path, label)
    raw = path.read_bytes()
    problem = _not_text(raw, label)
    if problem:
        raise ValueError(problem)
    return raw.decode("utf-8-sig")


def parse_yaml_mapping(text: str, path: str | Path, what: str = "config") -> dict[str, Any]:
    """The mapping a YAML config holds; malformed YAML fails naming the file, line and column."""
    import yaml

    try:
        cfg = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        where = f"{str(path)!r}"
        if mark is not None:
            where += f", line {mark.line + 1}, column {mark.column + 1}"
        hint = ""
        if mark is not None:
            lines = text.splitlines()
            line = lines[mark.line] if mark.line < len(lines) else ""
            if "\t" in line[: len(line) - len(line.lstrip())] or "'\\t'" in problem:
                hint = "; YAML is indented with spaces, not tabs"
        raise ValueError(f"malformed YAML in {what} {where}: {problem}{hint}") from None
    if cfg is None:
        return {}
    if not isinstance(cfg, dict):
        raise ValueError(
            f"{what} {str(path)!r} must be a YAML mapping (key: value lines), "
            f"not a {type(cfg).__name__}"
        )
    return cfg


def read_csv(path: Path, spec: str) -> Any:
    """A CSV file as a DataFrame; one error naming ``spec`` if it is empty, header-only, binary,
    not UTF-8 or not parseable as CSV."""
    import pandas as pd

    label = f"data {spec!r} ({path})"
    check_file(path, label)
    with path.open("rb") as f:
        head = f.read(_SNIFF)
    if b"\x00" in head:
        raise ValueError(f"{label} is a binary file, not a CSV")
    try:
        data = pd.read_csv(path)  # pandas skips a UTF-8 byte-order mark itself
    except pd.errors.EmptyDataError:
        raise ValueError(f"{label} is empty: no header, no rows") from None
    except UnicodeDecodeError:
        raise ValueError(_not_text(path.read_bytes(), label) or f"{label} is not UTF-8") from None
    except pd.errors.ParserError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{label} is not a readable CSV: {first}") from None
    if len(data) == 0:
        raise ValueError(f"{label} has a header ({len(data.columns)} columns) but no rows")
    return data
