"""Bahasa Indonesia first, English second: locale choice, compiled catalogues and local-time display."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency
from flask import Response, current_app, has_request_context, request
from flask_babel import get_locale, gettext

from bos.enums import ProcessStage

SOURCE_TRANSLATIONS = Path(__file__).resolve().parent / "translations"
LANGUAGES = ("id", "en")


def compile_translations(target: Path) -> Path:
    """Compile the ``.po`` catalogues into ``target`` when missing or stale.

    Only the text catalogues are in git; compiling at start-up keeps binary ``.mo`` files out of the repository.
    """
    for po_path in SOURCE_TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo_path = target / po_path.relative_to(SOURCE_TRANSLATIONS).with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file)
        tmp = mo_path.with_suffix(".mo.tmp")
        with tmp.open("wb") as mo_file:
            write_mo(mo_file, catalog)
        tmp.replace(mo_path)  # atomic: two workers starting at once never read half a file
    return target


def select_locale() -> str:
    if not has_request_context():  # a CLI command or job calling a service: messages in the default language
        return current_app.config["LOCALE"]
    chosen = request.args.get("lang") or request.cookies.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return current_app.config["LOCALE"]


def current_language() -> str:
    return str(get_locale() or current_app.config["LOCALE"])


def format_idr(amount: Decimal | None, currency: str | None = "IDR") -> str:
    if amount is None:
        return "-"
    if amount == amount.to_integral_value():
        # Rupiah amounts are whole in practice; "Rp1.413.000.000" reads better than "Rp1.413.000.000,00".
        return format_currency(amount, currency or "IDR", "¤#,##0", locale=current_language(), currency_digits=False)
    return format_currency(amount, currency or "IDR", locale=current_language(), currency_digits=True)


def local_time(value: dt.datetime | None, fmt: str = "%d-%m-%Y %H:%M") -> str:
    """Show a stored UTC time in the configured zone (WIB by default), with the zone's abbreviation."""
    if value is None:
        return "-"
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    local = value.astimezone(zone)
    return f"{local.strftime(fmt)} {local.tzname()}"


def stage_labels() -> dict[ProcessStage, str]:
    return {
        ProcessStage.PLANNED: gettext("Planned"),
        ProcessStage.OPEN: gettext("Open for bids"),
        ProcessStage.CLOSED: gettext("Bidding closed"),
        ProcessStage.AWARDED: gettext("Awarded"),
        ProcessStage.CONTRACTED: gettext("Contract signed"),
        ProcessStage.IMPLEMENTATION: gettext("In implementation"),
        ProcessStage.COMPLETED: gettext("Completed"),
        ProcessStage.CANCELLED: gettext("Cancelled"),
    }


def remember_language(response: Response) -> Response:
    """A ``?lang=`` choice sticks (as the language switch does), so following a link keeps the language."""
    if has_request_context():
        chosen = request.args.get("lang")
        if chosen in LANGUAGES and request.cookies.get("lang") != chosen:
            response.set_cookie("lang", chosen, max_age=365 * 24 * 3600, samesite="Lax")
    return response
