"""The exception tree drawn in ``warehouse/errors.py``'s docstring is the code's: complete, true, one name per class.

Every exception class defined in callcost's packages is found by importing every module; each must be
drawn — a ``CallcostError`` in the tree under its real parent, with its real module and its mixins
(``+ValueError``), anything else among the signals that never reach a user.  A class added, moved,
renamed or re-parented without redrawing the tree fails here, and so do two classes with one name.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections import Counter

import warehouse.errors
from warehouse.errors import CallcostError

PACKAGES = ("callcost", "collector", "warehouse", "analytics", "reports", "dashboards")
LINE = re.compile(r"^    (?P<prefix>[│├└─ ]*)(?P<name>\w+)(?: \(\+(?P<mixins>[\w, ]+)\))?"
                  r"\s{2,}(?P<module>[a-z][\w.]+)\s{2,}\S")


def exception_classes() -> list[type[BaseException]]:
    """Every exception class defined at module level in our packages (``__main__`` modules not run)."""
    found: dict[str, type[BaseException]] = {}
    for pkg_name in PACKAGES:
        pkg = importlib.import_module(pkg_name)
        names = [pkg_name] + [m.name for m in pkgutil.walk_packages(pkg.__path__, f"{pkg_name}.")
                              if not m.name.endswith("__main__")]
        for name in names:
            module = importlib.import_module(name)
            for obj in vars(module).values():
                if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == name:
                    found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return list(found.values())


def drawn() -> tuple[list[dict], list[dict]]:
    """(tree lines, signal lines) of the docstring, each as name, module, depth and mixins."""
    doc = warehouse.errors.__doc__
    tree_part, signals_part = doc.split("Signals, not errors", 1)
    def rows(text: str) -> list[dict]:
        out = []
        for line in text.splitlines():
            m = LINE.match(line)
            if m:
                out.append({"name": m["name"], "module": m["module"], "depth": len(m["prefix"]) // 4,
                            "mixins": [x.strip() for x in (m["mixins"] or "").split(",") if x.strip()]})
        return out
    return rows(tree_part), rows(signals_part)


def test_every_callcost_error_is_drawn_in_the_tree_with_its_module():
    classes = exception_classes()
    tree, _ = drawn()
    errors = {(c.__name__, c.__module__) for c in classes if issubclass(c, CallcostError)}
    assert {(r["name"], r["module"]) for r in tree} == errors


def test_every_other_exception_class_is_a_drawn_signal():
    classes = exception_classes()
    _, signals = drawn()
    others = {(c.__name__, c.__module__) for c in classes if not issubclass(c, CallcostError)}
    assert {(r["name"], r["module"]) for r in signals} == others


def test_the_tree_shows_each_class_under_its_real_parent_with_its_mixins():
    by_name = {c.__name__: c for c in exception_classes()}
    tree, _ = drawn()
    assert tree[0] == {"name": "CallcostError", "module": "warehouse.errors", "depth": 0, "mixins": []}
    parents = ["CallcostError"]
    for row in tree[1:]:
        cls = by_name[row["name"]]
        del parents[row["depth"]:]
        ours = [b for b in cls.__bases__ if issubclass(b, CallcostError)]
        assert [b.__name__ for b in ours] == [parents[-1]], f"{row['name']} is drawn under {parents[-1]}"
        assert [b.__name__ for b in cls.__bases__ if b not in ours] == row["mixins"], row["name"]
        parents.append(row["name"])


def test_no_two_exception_classes_share_a_name():
    counts = Counter(c.__name__ for c in exception_classes())
    assert [name for name, n in counts.items() if n > 1] == []
