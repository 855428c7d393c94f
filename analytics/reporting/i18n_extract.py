"""The Babel extraction method of the catalog (``babel.cfg``): message ids from our Python source, by AST.

Why not Babel's own ``python`` method: it does not look inside the arguments of a call it extracts
from, so ``ReportTable(N_("By site"), ((…, N_("Site"), "text"), …))`` or a dashboard
``Table("by_site", "By site", frame, (Column("site", "Site"), …))`` lost every nested label.  This walks
the syntax tree, so every call is seen wherever it is nested.  What it takes, per callee name
(:data:`KEYWORDS`): our markers (``N_``, ``Msg``, ``_``, ``gettext``) and the calls whose argument is a
label shown as it is (a Dash component's text, a dashboard column's or table's title, a report's
figure, table and row labels), and a dashboard page's menu label (``NAME = "Billing"``, the page
contract of ``dashboards/pages``).  Only string literals are messages; an f-string or a variable is not.

    pybabel extract -F babel.cfg -o analytics/reporting/locale/callcost.pot .
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import IO, Any

__all__ = ["KEYWORDS", "extract_python", "messages_of"]

#: Callee name → the positions (0-based) of its arguments that are message ids.
KEYWORDS: dict[str, tuple[int, ...]] = {
    "N_": (0,), "Msg": (0,), "_": (0,), "gettext": (0,),
    # dashboards: components whose first argument is the text shown, and labelled tables and columns
    "H1": (0,), "H2": (0,), "H3": (0,), "H4": (0,), "P": (0,), "Span": (0,), "Label": (0,), "A": (0,), "Link": (0,),
    "Button": (0,), "Summary": (0,), "Column": (1,), "Table": (1,), "card": (0,), "breakdown_table": (1, 4),
    "_dropdown": (1,),
    # reports: figures, tables, rows and listings are labelled by a literal
    "Figure": (0,), "ReportTable": (0,), "TableRow": (0,), "Listing": (0,), "frame_table": (2,),
}


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def messages_of(source: str) -> Iterator[tuple[int, str | None, str]]:
    """(line, callee, message) of every literal message id in *source*."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["NAME"]:
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                yield node.value.lineno, "NAME", node.value.value  # a page's menu label
            continue
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        for pos in KEYWORDS.get(name or "", ()):
            if pos < len(node.args):
                arg = node.args[pos]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.strip():
                    yield arg.lineno, name, arg.value


def extract_python(fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: dict) -> Iterator[tuple]:
    """Babel's extraction-method interface: ``(lineno, funcname, message, comments)``."""
    if str(getattr(fileobj, "name", "")).endswith("config_schema.py"):
        return  # the config's declared schema: documentation (docs/config-reference.md), not a page
    source = fileobj.read().decode(options.get("encoding", "utf-8"))
    for line, name, message in sorted(messages_of(source)):
        yield line, None, message, []  # None: a plain message (Babel looks a named callee up in its own keywords)
