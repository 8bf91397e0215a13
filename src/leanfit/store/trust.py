"""The exact names a stored skops artifact may contain, and the generator of that list.

skops rebuilds an object from a tree of nodes, each naming a class it instantiates, a function
it returns or calls (``FunctionNode``, ``ConstructorFromReduceNode``), or a bound method
(``MethodNode``: ``module.Class.method``). ``archive_names`` lists every such name in an archive,
ignoring skops's own default trust, and ``untrusted`` returns those not in ``trusted.txt`` (next to
this module): the names that leanfit's own models, fitted in every mode they support, and its
pre-processing produce when saved. A module prefix never grants trust: a function under
``sklearn.`` (sklearn re-exports ``subprocess.check_output``) is refused unless listed by name.

The list is generated, not written by hand, by ``leanfit.trustlist`` (above the store: it
refits every registered model)::

    python -m leanfit.trustlist --write    # refit every registered model on tiny data
    python -m leanfit.trustlist --check    # exit 1 and print the difference if out of date

and ``tests/test_store_security.py`` regenerates it and compares. A new model, or an engine
release that saves new private classes, shows up there as names to review and add.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["TRUSTED_FILE", "archive_names", "trusted_names", "untrusted"]

TRUSTED_FILE = Path(__file__).with_name("trusted.txt")


@cache
def trusted_names() -> frozenset[str]:
    """The names in ``trusted.txt`` (comments and blank lines skipped); read once, immutable."""
    lines = TRUSTED_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(s for line in lines if (s := line.split("#", 1)[0].strip()))


def archive_names(data: bytes) -> set[str]:
    """Every class, function and method name the skops archive ``data`` would import or call.

    The node tree is built (nothing imported or constructed) and each node's trust list emptied,
    so skops's default-trusted names are reported too, not only those it finds suspicious.
    """
    from skops.io._audit import Node, get_tree
    from skops.io._utils import read_schema

    with zipfile.ZipFile(io.BytesIO(data)) as z:
        schema, ctx = read_schema(z)
        root = get_tree(schema, ctx, trusted=None)
    stack: list[Any] = [root]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        node.trusted = []
        for child in node.children.values():
            if isinstance(child, dict):
                child = list(child.values())
            stack.extend(
                k for k in (child if isinstance(child, list) else [child]) if isinstance(k, Node)
            )
        cached = getattr(node, "cached", None)
        if isinstance(cached, Node):
            stack.append(cached)
    return set(root.get_unsafe_set())


def untrusted(names: Iterable[str]) -> list[str]:
    """The given names that are not on the exact trust list, sorted."""
    allowed = trusted_names()
    return sorted(n for n in set(names) if n not in allowed)
