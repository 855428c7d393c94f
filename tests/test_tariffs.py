"""Tariff files (SPEC §4): every problem in a bad file is reported at once, naming file, line and column."""

from __future__ import annotations

import pytest

from warehouse.errors import ConfigErrors
from analytics.rating.index import band_coverage_gaps
from analytics.rating.tariffs import load_tariff

HEADER = "plan,origin,prefix,destination,category,days,time_from,time_to,connect_fee,rate,first_increment,increment,valid_from,valid_to"
GOOD = "acme,,44,UK,international,all,00:00,24:00,0.00,0.1200,60,60,2026-01-01,"

# (row, column the error must name); each row is on its own line, from line 2
BAD = [
    ("acme,,44,UK,international,funday,00:00,24:00,0.00,0.1200,60,60,2026-01-01,", "days"),
    ("acme,,45,DK,international,all,25:00,24:00,0.00,0.1200,60,60,2026-01-01,", "time_from"),
    ("acme,,46,SE,international,all,8:00,24:00,0.00,0.1200,60,60,2026-01-01,", "time_from"),
    ("acme,,47,NO,international,all,18:00,08:00,0.00,0.1200,60,60,2026-01-01,", "time_to"),
    ("acme,,48,PL,international,all,00:00,24:00,-0.01,0.1200,60,60,2026-01-01,", "connect_fee"),
    ("acme,,49,DE,international,all,00:00,24:00,0.00,abc,60,60,2026-01-01,", "rate"),
    ("acme,,30,GR,international,all,00:00,24:00,0.00,0.12000001,60,60,2026-01-01,", "rate"),
    ("acme,,31,NL,international,all,00:00,24:00,0.00,0.1200,0,60,2026-01-01,", "first_increment"),
    ("acme,,32,BE,international,all,00:00,24:00,0.00,0.1200,60,-6,2026-01-01,", "increment"),
    ("acme,,33,FR,international,all,00:00,24:00,0.00,0.1200,60,60,2026-13-01,", "valid_from"),
    ("acme,,34,ES,international,all,00:00,24:00,0.00,0.1200,60,60,2026-06-01,2026-05-31", "valid_to"),
    ("acme,,+35,PT,international,all,00:00,24:00,0.00,0.1200,60,60,2026-01-01,", "prefix"),
    ("acme,1a,36,HU,international,all,00:00,24:00,0.00,0.1200,60,60,2026-01-01,", "origin"),
    ("acme,,37,XX,galactic,all,00:00,24:00,0.00,0.1200,60,60,2026-01-01,", "category"),
    ("acme,,44,UK again,international,mon-fri,08:00,18:00,0.00,0.1500,60,60,2026-06-01,", "days"),  # overlaps line 2
]


def test_every_bad_cell_is_reported_with_file_line_and_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("\n".join([HEADER, GOOD] + [row for row, _ in BAD]) + "\n")
    with pytest.raises(ConfigErrors) as exc:
        load_tariff(path, scale=2)
    got = {(e.line, e.field) for e in exc.value.errors}
    want = {(i + 3, col) for i, (_, col) in enumerate(BAD)}
    assert got == want
    for e in exc.value.errors:
        assert e.file == str(path) and e.expected
        assert str(e).startswith(f"{path}:{e.line}: field '{e.field}'")
    overlap = next(e for e in exc.value.errors if e.line == len(BAD) + 2)
    assert "overlaps line 2" in overlap.message


def test_overlap_needs_validity_days_and_time_to_intersect(tmp_path):
    rows = [
        "acme,,44,UK,international,mon-fri,08:00,18:00,0.00,0.12,60,60,2026-01-01,2026-06-30",
        "acme,,44,UK,international,mon-fri,08:00,18:00,0.00,0.10,60,60,2026-07-01,",  # next version: fine
        "acme,,44,UK,international,mon-fri,18:00,24:00,0.00,0.08,60,60,2026-01-01,",  # other hours: fine
        "acme,,44,UK,international,sat-sun,08:00,18:00,0.00,0.08,60,60,2026-01-01,",  # other days: fine
        "acme,,44,UK,international,holiday,00:00,24:00,0.00,0.05,60,60,2026-01-01,",  # holiday: fine
        "acme,44,44,UK,international,all,00:00,24:00,0.00,0.05,60,60,2026-01-01,",  # other origin: fine
        "acme,,44,UK,international,mon;fri,17:00,19:00,0.00,0.05,60,60,2026-08-01,",  # clashes twice
    ]
    path = tmp_path / "t.csv"
    path.write_text("\n".join([HEADER] + rows) + "\n")
    with pytest.raises(ConfigErrors) as exc:
        load_tariff(path, scale=2)
    assert sorted((e.line, e.message.split(" (")[0]) for e in exc.value.errors) == [
        (8, "overlaps line 3"), (8, "overlaps line 4")]


def test_missing_column_and_unreadable_file(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(HEADER.replace(",increment,", ",step,") + "\n" + GOOD + "\n")
    with pytest.raises(ConfigErrors) as exc:
        load_tariff(path, scale=2)
    # 'step' is nothing like a column name: unknown (an error: cells would be read wrong) and 'increment' missing
    assert [(e.line, e.field) for e in exc.value.errors] == [(1, "step"), (1, "increment")]
    with pytest.raises(ConfigErrors):
        load_tariff(tmp_path / "absent.csv", scale=2)


def test_good_file_loads_as_exact_columns(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(HEADER + "\n\n# a comment line\n" + GOOD
                    + "\nacme,1212,1212,NYC,local,mon;wed;fri,08:30,24:00,0.05,0.012345,30,6,2026-01-01,2026-12-31\n")
    t = load_tariff(path, scale=2)
    assert len(t) == 2 and t.rows.num_rows == 2
    assert t.line.tolist() == [4, 5]
    assert t.rate.tolist() == [120_000, 12_345] and t.connect_fee.tolist() == [0, 50_000]
    assert t.days.tolist() == [0b1111111, 0b10101] and t.time_from.tolist() == [0, 30_600]
    assert t.time_to.tolist() == [86_400, 86_400]
    assert t.band.tolist() == ["all 00:00-24:00", "mon;wed;fri 08:30-24:00"]
    assert t.version.tolist() == ["2026-01-01", "2026-01-01"]


def test_band_coverage_gaps_are_warnings_naming_the_prefix(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("\n".join([
        HEADER, GOOD,
        "acme,,33,FR,international,mon-fri,08:00,18:00,0.00,0.10,60,60,2026-01-01,",
        "acme,,33,FR,international,sat-sun,00:00,24:00,0.00,0.10,60,60,2026-01-01,",
    ]) + "\n")
    gaps = band_coverage_gaps(load_tariff(path, scale=2))
    assert len(gaps) == 1
    g = gaps[0]
    assert (g.file, g.line, g.field) == (str(path), 3, "days")
    assert "prefix '33'" in g.message and "mon 00:00-08:00" in g.message and "mon 18:00-24:00" in g.message
