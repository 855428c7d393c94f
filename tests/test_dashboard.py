"""The dashboard: callbacks as plain functions, then the real app in a real headless Chromium."""

from __future__ import annotations

import re
import subprocess
import threading
import urllib.request
from pathlib import Path

import pytest
from dash import html

from dashboards import ids
from dashboards.app import create_app, make_wsgi_server, route
from dashboards.pages import PageContext
from dashboards.pages.overview import overview_content
from lakefactory import KNOWN_CALLS, write_lake

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("dash") / "lake"
    write_lake(root, KNOWN_CALLS)
    return root


def texts(component) -> list[str]:
    """Every string inside a Dash component tree, in order."""
    if isinstance(component, str):
        return [component]
    if isinstance(component, (list, tuple)):
        return [t for c in component for t in texts(c)]
    children = getattr(component, "children", None)
    return texts(children) if children is not None else []


def test_overview_content_for_a_month(lake):
    cards, figure, table, note = overview_content(lake, "2026-10", "USD")
    card_text = texts(cards)
    for label, value in (("Calls", ["10"]), ("Minutes", ["44"]), ("Actual cost", ["14.82", " USD"]),
                         ("Reference cost", ["30.94", " USD"]), ("Savings", ["16.12", " USD"])):
        i = card_text.index(label)
        assert card_text[i + 1:i + 1 + len(value)] == value, label
    savings = next(t for t in figure.data if t.name == "Savings")
    assert dict(zip(savings.x, savings.y)) == {"LON": 4.95, "NYC": 3.5, "SHA": 7.67}
    rows = [texts(tr) for tr in table.children[1].children]
    assert ["NYC", "5", "10", "0.53", "4.03", "3.50", "1"] in rows
    assert rows[-1][0] == "Total" and rows[-1][5] == "16.12"
    assert "2 call(s)" in note and "could not be priced" in note


def test_overview_on_an_empty_lake(tmp_path):
    cards, figure, table, note = overview_content(tmp_path / "none", None, "USD")
    assert "No calls" in " ".join(texts(cards))
    page = route("/", "", PageContext(tmp_path / "none", "USD"))
    dropdown = next(c for c in page._traverse() if getattr(c, "id", None) == ids.MONTH)
    assert dropdown.options == [] and dropdown.value is None


def test_router_opens_the_month_in_the_query_and_knows_unknown_pages(lake):
    ctx = PageContext(lake, "USD")
    def month(search):
        page = route("/", search, ctx)
        return next(c for c in page._traverse() if getattr(c, "id", None) == ids.MONTH)
    assert month("").value == "2026-11"  # latest by default
    assert month("?month=2026-10").value == "2026-10"
    assert month("?month=1999-01").value == "2026-11"  # not in the lake: fall back
    assert [o["value"] for o in month("").options] == ["2026-11", "2026-10", "2026-09"]
    assert "Page not found" in texts(route("/nope", "", ctx))


def test_app_wires_the_callbacks_and_loads_nothing_external(lake):
    app = create_app(lake, "USD")
    outputs = " ".join(app.callback_map)
    for component in (ids.PAGE, ids.CARDS, ids.SITE_CHART, ids.SITE_TABLE):
        assert component in outputs
    assert app.config.serve_locally and not app.config.external_stylesheets and not app.config.external_scripts
    assert isinstance(app.layout, html.Div)


@pytest.fixture
def server(lake):
    srv = make_wsgi_server(create_app(lake, "USD"), "127.0.0.1", 0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=10)


def test_index_page_references_only_local_assets(server):
    with urllib.request.urlopen(server + "/", timeout=10) as resp:
        page = resp.read().decode()
    srcs = re.findall(r"""(?:src|href)=["']([^"']+)""", page)
    assert srcs and all(s.startswith("/") for s in srcs), srcs


def chromium(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's 'chromium' package "
                    "(apt-get install -y --no-install-recommends chromium); .ci/run does this on a fresh machine")
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'chromium-profile'}", "--virtual-time-budget=10000", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_overview_renders_in_a_real_browser(server, tmp_path):
    """Dash builds the page in JavaScript: only a browser shows that the callbacks really fill it in."""
    run = chromium(["--dump-dom", server + "/?month=2026-10"], tmp_path)
    dom = run.stdout
    assert run.returncode == 0, run.stderr[-2000:]
    cards = dict(re.findall(r'card-label">([^<]+)</div><div class="card-value">([^<]+)<', dom))
    assert cards == {"Calls": "10", "Minutes": "44", "Actual cost": "14.82", "Reference cost": "30.94",
                     "Savings": "16.12"}, cards
    for text in ("NYC", "LON", "SHA", "Overview", "2026-10", "USD", "could not be priced"):
        assert text in dom, f"{text!r} not in the rendered page"
    assert "<td>SHA</td><td>2</td>" in dom  # the by-site table row, from the callback
    assert "main-svg" in dom  # plotly drew the chart (its JS was served locally)
