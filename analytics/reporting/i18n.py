"""Languages of reports, e-mails and dashboards: gettext catalogs and CLDR formatting, through Babel.

Why one module: a report's xlsx, HTML and text, its e-mail and the dashboard page showing the same
figures must read the same in a language, so the translations (``locale/<lang>/LC_MESSAGES/callcost.po``
beside this file) and the number, money and date formats (CLDR, via :mod:`babel.numbers` and
:mod:`babel.dates`) are looked up here and nowhere else.  The ``.po`` files are the source: they are
compiled to ``.mo`` in memory on first use (``babel.messages.mofile``), fuzzy entries left out, so a
checkout needs no build step; ``docs/dev/translations.md`` has the ``pybabel extract`` / ``update`` round.

Strings are written in English in the code, where they are defined, and marked for extraction:

* :func:`N_` marks a constant (a column header, a figure's label): it returns the English text, the
  renderer translates it when it writes the page;
* :class:`Msg` is a message with fields (``Msg("Period {start} to {end}.", start=..., end=...)``): it *is*
  the English text (a ``str``), and :meth:`Translator.text` translates the template and formats the
  fields in the reader's locale (a date as a date, a number with the locale's grouping).

    >>> from decimal import Decimal
    >>> translator("zh_CN").gettext("Savings")
    '节省'
    >>> translator("zh_CN").money(Decimal("1234.5"), "CNY")
    '¥1,234.50'
    >>> translator("en").money(Decimal("-3.456"), "GBP")
    '-£3.46'
    >>> translator("zh_CN").period("2026-10")
    '2026年10月'
"""

from __future__ import annotations

import io
import unicodedata
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError, dates, numbers
from babel.core import negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from analytics.messages import Msg, N_  # noqa: F401  (re-exported: the catalog's markers)
from analytics.reporting.model import ReportError

__all__ = ["CALL_TYPE_LABELS", "DEFAULT_LANG", "display_width", "DIRECTION_LABELS", "DOMAIN", "LANGS", "LOCALE_DIR", "Msg", "N_",
           "STATUS_LABELS", "Translator", "catalog_path", "from_accept_language", "normalize_lang", "translator"]

DOMAIN = "callcost"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
#: The languages with a catalog, English first (the language of the code, and the default).
LANGS = ("en", "zh_CN")
DEFAULT_LANG = "en"
#: How each language names itself (the dashboard's language menu).
LANGUAGE_NAMES = {"en": "English", "zh_CN": "简体中文"}


# N_ and Msg live in analytics.messages (no dependencies): the analytics layer's own errors use them too


#: Words for the stored ``call_type`` identifiers (SPEC §3: ``analytics.rating.classify.CALL_TYPES``).
CALL_TYPE_LABELS = {
    "internal": N_("Internal"), "onnet": N_("On-net"), "outbound": N_("Outbound"), "inbound": N_("Inbound"),
    "tollfree_inbound": N_("Toll-free inbound"), "emergency": N_("Emergency"), "tandem": N_("Tandem"),
}
#: Words for the stored ``direction`` identifiers.
DIRECTION_LABELS = {"internal": N_("Internal"), "outbound": N_("Outbound"), "inbound": N_("Inbound"),
                    "tandem": N_("Tandem")}
#: Words for the stored ``rating_status`` identifiers.
STATUS_LABELS = {"rated": N_("Rated"), "unrated": N_("Not priced")}


def display_width(text: str) -> int:
    """Columns *text* takes in a terminal or a spreadsheet column: a CJK (wide) character is two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def normalize_lang(lang: str | None) -> str:
    """``zh-CN``, ``zh_Hans_CN``, ``zh`` → ``zh_CN``; ``en-US`` → ``en``; None → the default.

    A language without a catalog is an error naming the ones there are, not a silent English page.
    """
    if lang is None or not str(lang).strip():
        return DEFAULT_LANG
    text = str(lang).strip().replace("-", "_")
    if text in LANGS:
        return text
    try:
        loc = Locale.parse(text)
    except (UnknownLocaleError, ValueError):
        loc = None
    if loc is not None:
        for known in LANGS:
            if Locale.parse(known).language == loc.language:
                return known
    raise ReportError(f"no translation for language '{lang}' (available: {', '.join(LANGS)})")


def from_accept_language(header: str | None) -> str:
    """The best of :data:`LANGS` for an HTTP ``Accept-Language`` header (by q-value), else the default."""
    wanted: list[tuple[float, int, str]] = []
    for n, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if tag and tag != "*" and q > 0:
            wanted.append((-q, n, tag.replace("-", "_")))
    preferred = [tag for _, _, tag in sorted(wanted)]
    found = negotiate_locale(preferred, list(LANGS), sep="_") if preferred else None
    if found:
        return found
    for tag in preferred:  # "zh-Hans", "zh-TW": the language alone
        try:
            return normalize_lang(tag)
        except ReportError:
            continue
    return DEFAULT_LANG


def catalog_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=None)
def _translations(lang: str) -> NullTranslations:
    """The catalog of *lang*, compiled from its ``.po`` on first use (fuzzy entries are not used)."""
    path = catalog_path(lang)
    if not path.exists():
        return NullTranslations()
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=lang, domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(buf, domain=DOMAIN)


def _q(value: Decimal | int, places: int) -> Decimal:
    return Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


class Translator:
    """Texts and formats of one language: ``gettext`` plus CLDR numbers, money, dates and month names.

    Numbers are rounded half up in ``Decimal`` first (as the reports always did), then laid out by the
    locale's pattern, so the same amount reads ``1,234.50`` in English and Chinese and ``1.234,50``
    where the locale says so.
    """

    def __init__(self, lang: str) -> None:
        self.lang = normalize_lang(lang)
        self.locale = Locale.parse(self.lang)
        self._t = _translations(self.lang)

    def gettext(self, message: str) -> str:
        return self._t.gettext(message) if message else message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._t.ngettext(singular, plural, n)

    def text(self, message: str) -> str:
        """*message* translated; a :class:`Msg`'s fields formatted in this locale."""
        if isinstance(message, Msg):
            fields = {k: self._field(v) for k, v in message.fields.items()}
            return self.gettext(message.template).format(**fields)
        return self.gettext(message)

    def _field(self, value: object) -> str:
        if isinstance(value, datetime):
            return self.datetime(value)
        if isinstance(value, date):
            return self.date(value)
        if isinstance(value, bool):
            return str(value)
        if isinstance(value, int):
            return self.count(value)
        if isinstance(value, Decimal):
            return self.number(value)
        if isinstance(value, str):
            return self.text(value)
        return str(value)

    def label(self, value: object, labels: dict[str, str] | None = None) -> str:
        """A stored identifier as words (``onnet`` → "On-net"), translated; anything else as it is."""
        table = labels if labels is not None else CALL_TYPE_LABELS
        text = "" if value is None else str(value)
        return self.gettext(table[text]) if text in table else text

    # --- numbers ---------------------------------------------------------------------------------

    def number(self, value: Decimal | int, places: int = 2) -> str:
        pattern = "#,##0" + ("." + "0" * places if places else "")
        return numbers.format_decimal(_q(value, places), format=pattern, locale=self.locale,
                                      decimal_quantization=False)

    def count(self, value: int) -> str:
        return numbers.format_decimal(int(value), format="#,##0", locale=self.locale)

    def percent(self, value: Decimal | int) -> str:
        """A percentage (12.5 means 12.5 %) to 0.1, half up."""
        sign = self.locale.number_symbols.get("latn", {}).get("percentSign", "%")
        return f"{self.number(value, 1)} {sign}"

    def money(self, value: Decimal | int, currency: str | None = None, scale: int = 2) -> str:
        """An amount with the CLDR symbol of *currency* for this locale (``$``, ``US$``, ``¥``, ``£``, ``€``)."""
        if not currency:
            return self.number(value, scale)
        pattern = "¤#,##0" + ("." + "0" * scale if scale else "")
        return numbers.format_currency(_q(value, scale), currency, format=pattern, locale=self.locale,
                                       currency_digits=False, decimal_quantization=False)

    def currency_symbol(self, currency: str) -> str:
        return numbers.get_currency_symbol(currency, locale=self.locale)

    # --- dates -----------------------------------------------------------------------------------

    def date(self, value: date) -> str:
        return dates.format_date(value, format="medium", locale=self.locale)

    def datetime(self, value: datetime) -> str:
        return dates.format_datetime(value, format="medium", tzinfo=value.tzinfo, locale=self.locale)

    def month_name(self, month: int) -> str:
        return dates.get_month_names("wide", locale=self.locale)[month]

    def period(self, period: str) -> str:
        """``2026-10`` as the locale names a month: "October 2026", "2026年10月"."""
        try:
            year, month = (int(p) for p in period.split("-"))
            return dates.format_skeleton("yMMMM", date(year, month, 1), locale=self.locale)
        except ValueError:
            return period


@lru_cache(maxsize=None)
def translator(lang: str | None = None) -> Translator:
    """The :class:`Translator` of *lang* (``en``, ``zh_CN``, or a tag :func:`normalize_lang` maps to one)."""
    return Translator(normalize_lang(lang))

