"""The dashboard in the viewer's language: which language a request wants, and a page translated into it.

Which language: the ``lang`` URL query (``?lang=zh_CN``, kept by every link and filter change, and
remembered in the ``callcost_lang`` cookie), else that cookie, else the browser's ``Accept-Language``
header (:func:`analytics.reporting.i18n.from_accept_language`), else English.

How: a page is built from English message ids (the labels of its columns, cards, headings and notes,
the words of the call types), and :func:`translate_tree` walks the finished Dash component tree once
and puts every text, placeholder, option label and chart title through the catalog
(:mod:`analytics.reporting.i18n`: the same ``.po`` files as the reports).  A text that is not a message
— a site name, a number — is left as it is.  One walk over the tree, so a page needs no translation
code of its own, and the figures cannot differ between languages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dash.development.base_component import Component

from analytics.reporting.i18n import (CALL_TYPE_LABELS, DEFAULT_LANG, LANGS, LANGUAGE_NAMES, STATUS_LABELS,
                                      Translator, from_accept_language, normalize_lang)
from analytics.reporting.model import ReportError

__all__ = ["COOKIE", "LANG_KEY", "LANGUAGE_NAMES", "request_lang", "translate_tree"]

#: The URL query key and the cookie that carry the viewer's language.
LANG_KEY = "lang"
COOKIE = "callcost_lang"

#: Component properties whose strings are shown to the viewer.
_TEXT_PROPS = ("children", "placeholder", "title")


def _known(lang: str | None) -> str | None:
    try:
        return normalize_lang(lang) if lang else None
    except ReportError:
        return None


def request_lang(query: Mapping[str, str], cookies: Mapping[str, str] | None = None,
                 accept_language: str | None = None) -> str:
    """The language of a request: ``?lang=``, else the cookie, else ``Accept-Language``, else English."""
    return (_known(query.get(LANG_KEY)) or _known((cookies or {}).get(COOKIE))
            or (from_accept_language(accept_language) if accept_language else None) or DEFAULT_LANG)


def _text(value: Any, tr: Translator) -> Any:
    if isinstance(value, str):
        words = CALL_TYPE_LABELS.get(value) or STATUS_LABELS.get(value)
        if words:  # a stored call type or rating status, shown as words
            return tr.gettext(words)
        return tr.text(value)
    return value


def _figure(figure: Any, tr: Translator) -> Any:
    """A plotly figure with its title, axis titles and trace names translated (a ``go.Figure`` in place)."""
    if hasattr(figure, "for_each_trace"):  # plotly.graph_objects.Figure
        if isinstance(figure.layout.title.text, str):
            figure.layout.title.text = tr.text(figure.layout.title.text)
        for axis in ("xaxis", "yaxis"):
            title = getattr(figure.layout, axis).title
            if isinstance(title.text, str):
                title.text = tr.text(title.text)
        figure.for_each_trace(lambda t: t.update(name=tr.text(t.name)) if isinstance(t.name, str) else None)
        return figure
    if not isinstance(figure, dict):
        return figure
    layout = dict(figure.get("layout") or {})
    title = layout.get("title")
    if isinstance(title, dict) and isinstance(title.get("text"), str):
        layout["title"] = {**title, "text": tr.text(title["text"])}
    data = [{**t, "name": tr.text(t["name"])} if isinstance(t, dict) and isinstance(t.get("name"), str) else t
            for t in figure.get("data") or []]
    return {**figure, "layout": layout, "data": data}


def translate_tree(node: Any, tr: Translator) -> Any:
    """*node* (a component, a list of them or a text) with every text shown to the viewer translated, in
    place for components.  In English too: the stored call types and statuses become words."""
    if isinstance(node, (list, tuple)):
        return [translate_tree(child, tr) for child in node]
    if isinstance(node, str):
        return _text(node, tr)
    if not isinstance(node, Component):
        return node
    for prop in _TEXT_PROPS:
        value = getattr(node, prop, None)
        if value is not None:
            setattr(node, prop, translate_tree(value, tr) if prop == "children" else _text(value, tr))
    options = getattr(node, "options", None)
    if isinstance(options, list):
        node.options = [{**o, "label": _text(o.get("label"), tr)} if isinstance(o, dict) else o for o in options]
    figure = getattr(node, "figure", None)
    if figure is not None and tr.lang != "en":
        node.figure = _figure(figure, tr)
    columns = getattr(node, "columns", None)  # a DataTable's headers
    if isinstance(columns, list):
        node.columns = [{**c, "name": _text(c.get("name"), tr)} if isinstance(c, dict) else c for c in columns]
    return node


def language_links(path: str, query: Mapping[str, str], current: str) -> list[tuple[str, str, bool]]:
    """(name, href, is_current) of each language for the page at *path* with *query*."""
    from urllib.parse import urlencode

    out = []
    for lang in LANGS:
        q = {**query, LANG_KEY: lang}
        out.append((LANGUAGE_NAMES[lang], f"{path}?{urlencode(q)}", lang == current))
    return out

