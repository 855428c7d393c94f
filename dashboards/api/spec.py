"""Every endpoint of the REST API and every parameter it takes, declared once.

Why one declaration: the validation of a request (:mod:`dashboards.api.params`), the routes Flask
serves (:func:`dashboards.api.register_api`), ``/api/v1/openapi.json`` (:func:`openapi`) and the test
that walks every route as a scoped manager all read :data:`ENDPOINTS`, so a parameter cannot be
documented but not checked, or a route served but not described (or not tried for leaks).

A value must match its parameter's pattern or enumeration before anything is computed: identifiers
are letters, digits and a few separators, so SQL metacharacters (quotes, ``;``, ``--``, ``/*``) are a
400 naming the parameter — the filters reach DuckDB as quoted literals anyway, but a request that asks
for ``site=NYC' OR 1=1`` is a mistake or an attack and is answered as one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from analytics.breakdowns import DIMENSIONS
from analytics.reporting.renderers import FORMATS
from analytics.selection import CALL_TYPES

__all__ = ["API_PREFIX", "ENDPOINTS", "Endpoint", "MAX_LIMIT", "Param", "SAVINGS_BY", "openapi"]

API_PREFIX = "/api/v1"
#: The most calls one page of ``/calls`` holds (a larger ``limit`` is a 400, not silently capped).
MAX_LIMIT = 1000
#: A site, department or carrier id: no quotes, semicolons, comment markers or commas.
_ID = r"(?!.*(--|/\*|\*/))[\w][\w .&+/-]{0,63}"
#: The dimensions ``/savings`` breaks down by (the issue's five; ``savings_by`` knows them all).
SAVINGS_BY = ("site", "carrier", "department", "extension", "call_type")
assert set(SAVINGS_BY) <= set(DIMENSIONS)


@dataclass(frozen=True)
class Param:
    """One parameter: where it goes (``query`` or ``path``), its type and what a value must look like."""

    name: str
    description: str
    kind: str = "string"  # string | integer | period | cursor
    required: bool = False
    where: str = "query"
    pattern: str | None = None
    enum: tuple[str, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None
    default: Any = None
    example: Any = None
    #: Names a site or department: checked against the caller's scope (403 outside it).
    scoped: bool = False

    def schema(self) -> dict[str, Any]:
        """The parameter's JSON Schema, as OpenAPI shows it."""
        out: dict[str, Any] = {"type": "integer" if self.kind == "integer" else "string"}
        for key, value in (("pattern", self.pattern and f"^{self.pattern}$"), ("minimum", self.minimum),
                           ("maximum", self.maximum), ("default", self.default), ("example", self.example)):
            if value is not None:
                out[key] = value
        if self.enum is not None:
            out["enum"] = list(self.enum)
        return out


@dataclass(frozen=True)
class Endpoint:
    """One ``GET`` route: its name (the handler and the OpenAPI ``operationId``), path and parameters."""

    name: str
    path: str  # under API_PREFIX, OpenAPI style: /reports/{name}
    summary: str
    description: str
    params: tuple[Param, ...] = ()
    auth: bool = True
    #: What a 200 is (media types); JSON unless said otherwise.
    media: tuple[str, ...] = ("application/json",)
    errors: tuple[int, ...] = (400, 401, 403)

    @property
    def url(self) -> str:
        return API_PREFIX + self.path

    @property
    def rule(self) -> str:
        """The Flask rule: ``/api/v1/reports/<name>``."""
        out = self.url
        for p in self.params:
            if p.where == "path":
                out = out.replace("{" + p.name + "}", f"<{p.name}>")
        return out


PERIOD = Param("period", "The month, YYYY-MM (the lake's UTC date partitions).", kind="period", required=True,
               pattern=r"\d{4}-\d{2}", example="2026-10")
SITE = Param("site", "Only this site (a manager: one of their sites).", pattern=_ID, example="NYC", scoped=True)
EXTENSION = Param("extension", "Only calls billed to this extension.", pattern=r"(?!.*--)[\w+*#.-]{1,32}",
                  example="1001")
CALL_TYPE = Param("call_type", "Only calls of this type.", enum=CALL_TYPES, example="outbound")

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("summary", "/summary", "Headline figures of a month, and the same per site",
             "Calls, talk minutes, actual and reference cost, savings and unrated calls of the month, for the "
             "caller's scope (a manager: their sites and departments), and `by_site`: the same figures per site. "
             "Money is over rated calls only, as exact decimal strings in `currency`.",
             (PERIOD, SITE)),
    Endpoint("savings", "/savings", "A month's savings broken down by one dimension",
             "The rows of that breakdown: one per value of `by` (calls with no value form `(none)`), with the "
             "figures of `/summary`.",
             (PERIOD, Param("by", "What to break the savings down by.", required=True, enum=SAVINGS_BY,
                            example="carrier"), SITE)),
    Endpoint("calls", "/calls", "The month's calls, a page at a time",
             "Canonical columns of each call (SPEC §4), ordered by start time and call_id. Pass `next_cursor` "
             "back as `cursor` for the next page; it is `null` on the last page. Paging is stable while calls "
             "are being stored: each call that existed when paging began comes exactly once.",
             (PERIOD, SITE, EXTENSION, CALL_TYPE,
              Param("limit", f"Calls per page (at most {MAX_LIMIT}).", kind="integer", minimum=1, maximum=MAX_LIMIT,
                    default=100),
              Param("cursor", "The `next_cursor` of the previous page (opaque).", kind="cursor",
                    pattern=r"[A-Za-z0-9_-]{1,512}"))),
    Endpoint("report", "/reports/{name}", "A named report of a month, rendered",
             "The report type *name* (`callcost report`'s: monthly-savings, carrier-cost, top-n, …) built for the "
             "caller's scope and rendered as `format`.",
             (Param("name", "The report type.", where="path", required=True, pattern=r"(?!.*--)[a-z0-9][a-z0-9-]{0,63}",
                    example="monthly-savings"),
              PERIOD, Param("format", "The rendering.", required=True, enum=FORMATS, example="json")),
             media=("application/json", "text/csv", "text/html",
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
             errors=(400, 401, 403, 404)),
    Endpoint("health", "/health", "Collector and storage health (no token needed)",
             "Whether the SQL database and the lake can be read, and the collector's totals over every PBX "
             "(records received, stored, quarantined; the last record's age; how many alerts). 503 when storage "
             "cannot be read. Per-PBX detail is `callcost status`'s.",
             auth=False, errors=(400, 503)),
    Endpoint("openapi", "/openapi.json", "This description of the API (OpenAPI 3.1)",
             "Generated from the same declarations that validate every request.", auth=False, errors=(400,)),
)


_STATUS = {400: "A parameter the API cannot use: the message names it.",
           401: "A missing, wrong, expired or revoked bearer token.",
           403: "A site or department outside the caller's scope.",
           404: "No such report type.",
           503: "Storage cannot be read."}


def openapi(endpoints: tuple[Endpoint, ...] = ENDPOINTS, version: str = "1") -> dict[str, Any]:
    """The OpenAPI 3.1 document of *endpoints*."""
    error = {"$ref": "#/components/schemas/Error"}
    paths: dict[str, Any] = {}
    for e in endpoints:
        op: dict[str, Any] = {
            "operationId": e.name, "summary": e.summary, "description": e.description,
            "parameters": [{"name": p.name, "in": p.where, "required": p.required or p.where == "path",
                            "description": p.description, "schema": p.schema()} for p in e.params],
            "responses": {"200": {"description": "OK", "content": {m: {} for m in e.media}},
                          **{str(s): {"description": _STATUS[s], "content": {"application/json": {"schema": error}}}
                             for s in e.errors}},
            "security": [{"bearer": []}] if e.auth else [],
        }
        paths[e.url] = {"get": op}
    return {
        "openapi": "3.1.0",
        "info": {"title": "callcost API", "version": version,
                 "description": "What an enterprise's calls cost and what IP telephony saves. Money is an exact "
                                "decimal string; a manager's token sees only their sites and departments."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "callcost users token NAME prints one."}},
            "schemas": {"Error": {"type": "object", "required": ["error", "status"],
                                  "properties": {"error": {"type": "string"}, "status": {"type": "integer"},
                                                 "parameter": {"type": "string"}}}},
        },
    }
