"""A request's parameters checked against their declaration (:mod:`dashboards.api.spec`), before anything runs.

Every problem is a :class:`BadParameter` naming the parameter: an unknown name, a value given twice,
a missing required one, a value outside its pattern or enumeration, a ``limit`` above the maximum, a
period that is no month, a cursor that is not one of ours.  Nothing is silently dropped, capped or
defaulted into something the caller did not ask for.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from werkzeug.datastructures import MultiDict

from analytics.calls import PeriodError, month_range
from analytics.keyset import Key
from dashboards.api.spec import Endpoint, Param
from warehouse.errors import CallcostError

__all__ = ["BadParameter", "decode_cursor", "encode_cursor", "parse"]


class BadParameter(CallcostError, ValueError):
    """A query or path parameter the API cannot use: HTTP 400, naming the parameter."""

    status_code = 400

    def __init__(self, parameter: str, message: str) -> None:
        self.parameter = parameter
        super().__init__(message)


def _shown(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:57] + "...")


def encode_cursor(key: Key) -> str:
    """The opaque ``next_cursor`` for the position *key* (start second, call_id)."""
    start, call_id = key
    raw = json.dumps([int(start.timestamp()), call_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> Key:
    """The position a :func:`encode_cursor` text stands for; :class:`BadParameter` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        seconds, call_id = json.loads(raw)
        if not isinstance(seconds, int) or isinstance(seconds, bool) or not isinstance(call_id, str):
            raise ValueError("not a position")
        return datetime.fromtimestamp(seconds, UTC), call_id
    except (binascii.Error, ValueError, TypeError, OverflowError, OSError, UnicodeDecodeError) as exc:
        raise BadParameter("cursor", "parameter cursor: not a cursor this API gave out (pass next_cursor back "
                                     "unchanged)") from exc


def _value(p: Param, text: str) -> Any:
    if p.pattern is not None and not re.fullmatch(p.pattern, text):
        raise BadParameter(p.name, f"parameter {p.name}: {_shown(text)} is not a valid {p.name}"
                                   + (f" (e.g. {p.example})" if p.example is not None else ""))
    if p.enum is not None and text not in p.enum:
        raise BadParameter(p.name, f"parameter {p.name}: {_shown(text)} is not one of {', '.join(p.enum)}")
    if p.kind == "integer":
        if not re.fullmatch(r"[0-9]{1,9}", text):
            raise BadParameter(p.name, f"parameter {p.name}: {_shown(text)} is not a whole number")
        number = int(text)
        if (p.minimum is not None and number < p.minimum) or (p.maximum is not None and number > p.maximum):
            raise BadParameter(p.name, f"parameter {p.name}: {number} is out of range ({p.minimum}–{p.maximum})")
        return number
    if p.kind == "period":
        try:
            month_range(text)
        except PeriodError as exc:
            raise BadParameter(p.name, f"parameter {p.name}: {exc}") from exc
    if p.kind == "cursor":
        return decode_cursor(text)
    return text


def parse(endpoint: Endpoint, query: MultiDict[str, str], path: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The checked values of *endpoint*'s parameters from the query string and the path (defaults filled in)."""
    declared = {p.name: p for p in endpoint.params}
    query_names = [p.name for p in endpoint.params if p.where == "query"]
    for name in query:
        if name not in query_names:
            known = ", ".join(query_names) or "none"
            raise BadParameter(name, f"unknown parameter {_shown(name)} (this endpoint takes: {known})")
        if len(query.getlist(name)) > 1:
            raise BadParameter(name, f"parameter {name}: given more than once")
    given = {**{k: query[k] for k in query}, **dict(path or {})}
    out: dict[str, Any] = {}
    for name, p in declared.items():
        text = given.get(name)
        if text is None or text == "":
            if p.required:
                raise BadParameter(name, f"parameter {name} is required ({p.description})")
            if p.default is not None:
                out[name] = p.default
            continue
        out[name] = _value(p, text)
    return out
