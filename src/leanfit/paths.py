"""Output paths: names that become file names, and output folders checked before any work.

Fit, experiment and run names are *mapped*, not refused: every run of characters outside
``[A-Za-z0-9_.-]`` becomes one ``-`` and leading dots and dashes are dropped, so ``../../x`` is
written as ``x`` and ``a/b`` as ``a-b`` — inside the output folder, never beside or above it.
Two names that map to the same file name are refused by ``check_distinct`` (nothing is
overwritten silently). An output folder is checked (a directory, writable) before fitting, not
after an hour of work.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_MAX_LEN = 120  # well under every file system's 255-byte limit, with room for a suffix


def safe_filename(name: str) -> str:
    """``name`` as one safe path component: no separators, no leading dot, not empty, bounded
    length (a long name keeps its start and gains a hash of the whole, so it stays distinct)."""
    text = str(name)
    safe = _UNSAFE.sub("-", text).lstrip(".-").rstrip("-")
    if not safe:
        raise ValueError(f"name {text!r} has no letters or digits to make a file name from")
    if len(safe) > _MAX_LEN:
        digest = hashlib.sha256(text.encode()).hexdigest()[:10]
        safe = f"{safe[: _MAX_LEN - 11]}-{digest}"
    return safe


def output_file(folder: str | Path, name: str, suffix: str = "") -> Path:
    """``folder/<safe name><suffix>``, checked to lie inside ``folder`` once resolved."""
    base = Path(folder).resolve()
    path = (base / f"{safe_filename(name)}{suffix}").resolve()
    if path.parent != base:  # cannot happen for a safe name; kept as the containment guarantee
        raise ValueError(f"name {name!r} would be written outside {str(base)!r}")
    return path


def check_distinct(names: Iterable[str], what: str) -> None:
    """Refuse names that differ but map to the same file name (one would overwrite the other)."""
    seen: dict[str, str] = {}
    for n in names:
        safe = safe_filename(n)
        if safe in seen and seen[safe] != n:
            raise ValueError(
                f"{what} {seen[safe]!r} and {n!r} would both be written as {safe!r}; "
                "rename one (file names keep only letters, digits, '_', '.' and '-')"
            )
        seen[safe] = n


def check_writable(folder: str | Path, what: str = "output folder") -> None:
    """Fail now, with one line naming the path, if ``folder`` cannot be created or written:
    it is a file, lies under a file, or the directory it would be made in is read-only.
    Nothing is left behind (a test file is written in the nearest existing directory)."""
    path = Path(folder).expanduser().absolute()
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        where = "is a file" if probe == path else f"lies under {str(probe)!r}, which is a file"
        raise ValueError(f"{what} {str(path)!r} {where}; give a directory")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".leanfit-write-test-", dir=probe)
    except OSError as e:
        raise ValueError(
            f"{what} {str(path)!r} cannot be written ({str(probe)!r}: {e.strerror or e}); "
            "choose another folder (leanfit run -o DIR)"
        ) from None
    os.close(fd)
    os.unlink(tmp)
