"""PDF reports: build the context from the database, render ``templates/reports/*.html``, print it with WeasyPrint,
and keep every PDF in the archive with its SHA-256 so that a circulated copy can be checked against it.

A report rendered from data identical to an archived one (same kind, subject, language, data digest and report
format) is not rendered again: the archived PDF is returned. Downloads are then cheap and repeatable, a GET does not
grow the archive while nothing changes, and two copies of "the same" report have the same hash.

Like every service this one flushes and never commits; unlike the others it needs the Flask app (templates and
translations), which jobs and CLI commands have as well.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
from babel.dates import format_date
from babel.numbers import format_compact_decimal, format_decimal, get_currency_symbol
from flask import current_app, has_request_context, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bos.db import utcnow
from bos.enums import OrganisationKind
from bos.exceptions import BadParameter, NotFound
from bos.i18n import LANGUAGES
from bos.ocds.models import Record
from bos.ocds.release import party_id
from bos.parties.models import Organisation
from bos.reports import charts, labels
from bos.reports import context as ctx
from bos.reports.context import FlagResponse, FlagView, WatchdogFilters
from bos.reports.models import ArchivedReport, ReportKind
from bos.tenders.models import Process

if TYPE_CHECKING:
    from bos.accounts.models import User
    from bos.red_flags.indicators import Outcome

log = logging.getLogger(__name__)
# WeasyPrint's font subsetting logs every step at INFO, dozens of lines per PDF; the app logs at INFO.
logging.getLogger("fontTools").setLevel(logging.WARNING)
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
# Without libharfbuzz-subset WeasyPrint also logs a warning per font of every PDF; the import note above says it once.
logging.getLogger("weasyprint").addFilter(lambda record: "HarfBuzz-Subset" not in record.getMessage())

#: Bump when a template or context changes what a report shows: data digests change, so reports render afresh.
REPORT_FORMAT = 1

FlagSource = Callable[[Session, Sequence[str], Sequence[str]], list[FlagView]]

__all__ = [
    "FlagResponse",
    "FlagSource",
    "FlagView",
    "WatchdogFilters",
    "flags_for_report",
    "flags_from_outcomes",
    "get_report",
    "render_buyer_profile",
    "render_dossier",
    "render_dossier_of_process",
    "render_watchdog_report",
    "report_pdf",
    "verify_report",
]


# --------------------------------------------------------------------------------------------------- flags


def flags_for_report(session: Session, ocids: Sequence[str], subjects: Sequence[str] = ()) -> list[FlagView]:
    """The red flags of these processes (and of these organisations, by OCDS party id), as reports show them.

    The one place reports read flags: every flag ever raised, standing or not, with its responses. A database
    without the red-flag engine's module (an older deployment) has no flags to show, which is not an error.
    """
    try:
        from bos.red_flags import models as flag_models  # noqa: PLC0415 - the engine is optional for reports
    except ModuleNotFoundError as exc:
        if exc.name != "bos.red_flags.models":
            raise
        return []
    return _flags_from_engine(session, flag_models, ocids, subjects)


_IN_CHUNK = 500  # bound IN lists: a watchdog report may cover every process of the kabupaten


def _flags_from_engine(
    session: Session, flag_models: Any, ocids: Sequence[str], subjects: Sequence[str]
) -> list[FlagView]:
    from bos.accounts.models import User  # noqa: PLC0415

    red_flag, response_model = flag_models.RedFlag, flag_models.RedFlagResponse
    flagged = flag_models.FlagStatus.FLAGGED
    conditions = [red_flag.ocid.in_(ocids[i : i + _IN_CHUNK]) for i in range(0, len(ocids), _IN_CHUNK)]
    conditions += [
        and_(red_flag.grain != "process", red_flag.subject.in_(subjects[i : i + _IN_CHUNK]))
        for i in range(0, len(subjects), _IN_CHUNK)
    ]
    if not conditions:
        return []
    rows = []
    for condition in conditions:
        rows += session.scalars(
            select(red_flag).where(
                condition,
                red_flag.source == ctx.BOS_SOURCE,
                # Outcomes that never flagged (not_flagged, insufficient data, not applicable) are not flags.
                red_flag.first_raised_at.is_not(None),
            )
        ).all()
    responses: dict[int, list[FlagResponse]] = {}
    ids = [row.id for row in rows]
    for start in range(0, len(ids), _IN_CHUNK):
        for response, author in session.execute(
            select(response_model, User.name)
            .join(User, User.id == response_model.user_id)
            .where(response_model.flag_id.in_(ids[start : start + _IN_CHUNK]))
            .order_by(response_model.id)
        ):
            responses.setdefault(response.flag_id, []).append(
                FlagResponse(author=author, date=response.created_at, text=response.body, kind=response.kind.value)
            )
    views = []
    for row in sorted(rows, key=lambda r: r.id):
        status = "cleared"
        if row.status is flagged:
            status = "dismissed" if row.dismissed_at is not None else "flagged"
        evidence = orjson.loads(row.evidence) if row.evidence else {}
        views.append(
            FlagView(
                code=row.code,
                ocid=row.ocid,
                subject=row.subject,
                status=status,
                value=row.value,
                score=row.score,
                evidence=evidence if isinstance(evidence, dict) else {"evidence": evidence},
                details=row.explanation,
                raised_at=row.first_raised_at,
                cleared_at=row.cleared_at if status == "cleared" else None,
                dismissed_at=row.dismissed_at,
                responses=tuple(responses.get(row.id, ())),
                buyer_id=row.buyer,
            )
        )
    return views


def flags_from_outcomes(
    outcomes: Sequence[Outcome], raised_at: Callable[[Outcome], dt.datetime | None] | None = None
) -> list[FlagView]:
    """Flags straight from the pure indicators (``evaluate_dataset``), for previews, benches and tests."""
    return [
        FlagView(
            code=o.code,
            ocid=o.ocid,
            subject=o.subject,
            status="flagged",
            value=o.value,
            score=o.score,
            evidence=dict(o.evidence),
            raised_at=raised_at(o) if raised_at else None,
        )
        for o in outcomes
        if o.status == "flagged"
    ]


def source_from(flags: Sequence[FlagView]) -> FlagSource:
    """A flag source serving a fixed list (previews of flags not stored, benches, tests)."""

    def read(_session: Session, ocids: Sequence[str], subjects: Sequence[str]) -> list[FlagView]:
        wanted_ocids, wanted_subjects = set(ocids), set(subjects)
        return [f for f in flags if (f.ocid in wanted_ocids) or (f.ocid is None and f.subject in wanted_subjects)]

    return read


# --------------------------------------------------------------------------------------------------- rendering


def check_language(language: str | None) -> str:
    chosen = language or current_app.config["LOCALE"]
    if chosen not in LANGUAGES:
        raise BadParameter(_("Unknown language."), {"lang": [", ".join(LANGUAGES)]})
    return chosen


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str)
    if hasattr(value, "items"):  # MappingProxy and other read-only mappings in evidence
        return dict(value)
    raise TypeError(type(value).__name__)


def data_digest(kind: ReportKind, language: str, data: dict[str, Any]) -> str:
    payload = {"format": REPORT_FORMAT, "kind": kind.value, "language": language, "data": data}
    return hashlib.sha256(
        orjson.dumps(payload, default=_json_default, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    ).hexdigest()


@contextmanager
def _template_context(language: str) -> Iterator[None]:
    # Jobs and CLI commands have an app context but no request; the shared template globals (and url_for) want one,
    # as when Flask renders mail outside a request.
    outer = (
        nullcontext()
        if has_request_context()
        else current_app.test_request_context(base_url=current_app.config["PUBLIC_BASE_URL"])
    )
    with outer, force_locale(language):
        yield


def css_string(text: str) -> Markup:
    """``text`` as a quoted CSS string, for the page header and footer (``@page`` margin boxes take no HTML)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\A ").replace("<", "\\3C ")
    # Inside <style> HTML escaping would print "&amp;" literally; "<" is escaped above, so the text cannot close it.
    return Markup(f'"{escaped}"')  # noqa: S704


def evidence_text(value: Any) -> str:
    """One evidence value, short enough for a line of print."""
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, str):
        text = value
    elif isinstance(value, list | tuple) and all(isinstance(v, str | int | float) for v in value):
        text = ", ".join(evidence_text(v) for v in value)
    else:
        text = orjson.dumps(value, default=_json_default, option=orjson.OPT_NON_STR_KEYS).decode()
    return text if len(text) <= 400 else text[:399] + "…"


def _template_helpers(language: str, kind: ReportKind) -> dict[str, Any]:
    """Functions the report templates call; built inside ``force_locale`` so labels come out in ``language``."""
    from bos.enums import ProcessStage  # noqa: PLC0415
    from bos.i18n import stage_labels  # noqa: PLC0415

    stages = stage_labels()

    symbol = get_currency_symbol(_currency(), locale=language)

    def compact_money(amount: Any) -> str:
        return f"{symbol}{format_compact_decimal(amount, locale=language, fraction_digits=1)}"

    def money_chart(labels: Sequence[str], values: Sequence[Any]) -> charts.Chart:
        return charts.horizontal_bars(list(zip(labels, values, strict=True)), compact_money)

    def count_chart(rows: Sequence[tuple[str, int]]) -> charts.Chart:
        return charts.horizontal_bars(list(rows), str)

    def month_chart(rows: Sequence[tuple[str, int]]) -> charts.Chart:
        def label(month: str) -> str:
            return format_date(dt.date(int(month[:4]), int(month[5:7]), 1), "MMM yy", locale=language)

        return charts.vertical_bars([(label(month), n) for month, n in rows], str)

    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return {
        "css_string": css_string,
        "evidence_text": evidence_text,
        "code_label": labels.code_label,
        "stage_label": lambda code: stages.get(ProcessStage(code), code),
        "indicator_name": lambda code: labels.indicator_name(code, language),
        "indicator_explanation": lambda code: labels.indicator_explanation(code, language),
        "indicator_rows": lambda rows: [(f"{code} · {labels.indicator_name(code, language)}", n) for code, n in rows],
        "kind_label": labels.report_kind_label(kind.value),
        "response_label": labels.response_label,
        "verify_url": f"{base}/reports/verify",
        "zone_name": current_app.config["TIMEZONE"],
        "compact_money": compact_money,
        "number": lambda value: "-" if value is None else format_decimal(value, locale=language),
        "money_chart": money_chart,
        "count_chart": count_chart,
        "month_chart": month_chart,
    }


def render_pdf(template: str, language: str, kind: ReportKind, **context: Any) -> bytes:
    """HTML from ``templates/reports/<template>`` in ``language``, printed to PDF by WeasyPrint."""
    with warnings.catch_warnings():
        # Without the system's libharfbuzz-subset, WeasyPrint warns at import that future versions will need it and
        # subsets fonts with fontTools instead (slower, same PDF). Install it where speed matters (bench/README.md).
        warnings.filterwarnings("ignore", "HarfBuzz-Subset", DeprecationWarning)
        from weasyprint import HTML  # noqa: PLC0415 - heavy import, only where PDFs are made

    with _template_context(language):
        html = render_template(
            f"reports/{template}", language=language, **_template_helpers(language, kind), **context
        )
    return HTML(string=html, base_url=current_app.root_path).write_pdf()


def _find_rendered(
    session: Session, kind: ReportKind, subject: str, language: str, digest: str
) -> ArchivedReport | None:
    return session.scalars(
        select(ArchivedReport)
        .where(
            ArchivedReport.kind == kind,
            ArchivedReport.subject == subject,
            ArchivedReport.language == language,
            ArchivedReport.data_digest == digest,
        )
        .order_by(ArchivedReport.id.desc())
        .limit(1)
    ).first()


def archive_report(session: Session, report: ArchivedReport) -> ArchivedReport:
    """Store a rendered PDF. Byte-identical PDFs are one archive entry (the hash is unique)."""
    try:
        with session.begin_nested():
            session.add(report)
            session.flush()
    except IntegrityError:
        existing = session.scalars(select(ArchivedReport).where(ArchivedReport.sha256 == report.sha256)).first()
        if existing is None:
            raise
        return existing
    log.info(
        "archived %s report %s (%s bytes, sha256 %s)", report.kind.value, report.subject, report.size, report.sha256
    )
    return report


def reuse_or_render(
    session: Session,
    *,
    kind: ReportKind,
    subject: str,
    title: str,
    language: str,
    template: str,
    data: dict[str, Any],
    now: dt.datetime,
    requested_by: User | None,
    origin: str,
    parameters: dict[str, Any] | None = None,
    data_cutoff: dt.datetime | None = None,
) -> ArchivedReport:
    """The archived report of identical data, or a new one rendered now and archived.

    ``data_cutoff`` is the moment the data was read (default ``now``); a watchdog report of a past period uses the
    period's end, since flags raised later are left out.
    """
    data_cutoff = data_cutoff or now
    digest = data_digest(kind, language, {"data": data, "parameters": parameters})
    existing = _find_rendered(session, kind, subject, language, digest)
    if existing is not None:
        return existing
    pdf = render_pdf(template, language, kind, generated_at=now, data_cutoff=data_cutoff, report_title=title, **data)
    report = ArchivedReport(
        kind=kind,
        subject=subject,
        title=title[:500],
        language=language,
        parameters=orjson.dumps(parameters).decode() if parameters else None,
        generated_at=now,
        data_cutoff=data_cutoff,
        data_digest=digest,
        sha256=hashlib.sha256(pdf).hexdigest(),
        size=len(pdf),
        pdf=pdf,
        requested_by_id=requested_by.id if requested_by is not None else None,
        origin=origin,
    )
    return archive_report(session, report)


def _base_url() -> str:
    return current_app.config["PUBLIC_BASE_URL"]


def _currency() -> str:
    return current_app.config.get("CURRENCY", "IDR")


# --------------------------------------------------------------------------------------------------- reports


def render_dossier(
    session: Session,
    ocid: str,
    language: str | None = None,
    *,
    now: dt.datetime | None = None,
    requested_by: User | None = None,
    origin: str = "web",
    flag_source: FlagSource = flags_for_report,
) -> ArchivedReport:
    """The dossier of one published contracting process, from its OCDS record."""
    language = check_language(language)
    now = now or utcnow()
    record = session.scalars(select(Record).where(Record.ocid == ocid, Record.source == ctx.BOS_SOURCE)).one_or_none()
    if record is None:
        raise NotFound(_("No such contracting process."))
    process = session.scalars(select(Process).where(Process.ocid == ocid)).one_or_none()
    flags = flag_source(session, [ocid], [])
    data = ctx.dossier_context(session, record, process, flags, _currency(), _base_url())
    return reuse_or_render(
        session,
        kind=ReportKind.DOSSIER,
        subject=ocid,
        title=data["title"],
        language=language,
        template="dossier.html",
        data={"dossier": data},
        now=now,
        requested_by=requested_by,
        origin=origin,
    )


def render_dossier_of_process(
    session: Session, process_id: int, language: str | None = None, **kwargs: Any
) -> ArchivedReport:
    ocid = session.scalar(select(Process.ocid).where(Process.id == process_id))
    if ocid is None:
        raise NotFound(_("No such contracting process."))
    return render_dossier(session, ocid, language, **kwargs)


def get_buyer(session: Session, buyer_id: int) -> Organisation:
    buyer = session.get(Organisation, buyer_id)
    if buyer is None or buyer.kind is OrganisationKind.SUPPLIER:
        raise NotFound(_("No such buyer."))
    return buyer


def render_buyer_profile(
    session: Session,
    buyer_id: int,
    language: str | None = None,
    *,
    now: dt.datetime | None = None,
    requested_by: User | None = None,
    origin: str = "web",
    flag_source: FlagSource = flags_for_report,
) -> ArchivedReport:
    """Spending, methods, top suppliers and flags over time of one buyer."""
    language = check_language(language)
    now = now or utcnow()
    buyer = get_buyer(session, buyer_id)
    records = ctx.buyer_records(session, buyer)
    flags = flag_source(session, [r.ocid for r in records], [party_id(buyer)])
    data = ctx.buyer_profile_context(buyer, records, flags, _currency(), now)
    # The flag chart counts months up to now: the month is part of the data, so a new month renders afresh.
    return reuse_or_render(
        session,
        kind=ReportKind.BUYER_PROFILE,
        subject=str(buyer.id),
        title=buyer.name,
        language=language,
        template="buyer_profile.html",
        data={"profile": data},
        now=now,
        requested_by=requested_by,
        origin=origin,
    )


def _watchdog_subject(filters: WatchdogFilters) -> str:
    return "watchdog:" + hashlib.sha256(orjson.dumps(filters.as_json(), option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def render_watchdog_report(
    session: Session,
    filters: WatchdogFilters,
    period_start: dt.datetime,
    period_end: dt.datetime,
    language: str | None = None,
    *,
    now: dt.datetime | None = None,
    requested_by: User | None = None,
    origin: str = "job",
    flag_source: FlagSource = flags_for_report,
) -> ArchivedReport:
    """The watchdog report of ``filters`` over [period_start, period_end): new and cleared flags, the riskiest
    processes at the period's end, flags by buyer and indicator, value by procurement method.

    For the alerts' weekly digest: call it with the subscription's plain filter values and attach
    ``report_pdf(session, report)`` to the mail; the report is archived, so the mail can cite its SHA-256.
    """
    language = check_language(language)
    now = now or utcnow()
    if period_start.tzinfo is None or period_end.tzinfo is None:
        raise BadParameter(_("The period needs timezone-aware times."))
    if period_end <= period_start:
        raise BadParameter(_("The period must end after it starts."))
    filters = replace(
        filters,
        buyer_ids=tuple(sorted(set(filters.buyer_ids))),
        indicator_codes=tuple(sorted(set(filters.indicator_codes))),
        keyword=(filters.keyword or "").strip() or None,
    )
    scope = ctx.watchdog_scope(session, filters)
    ocids = [record.ocid for record, _release in scope]
    buyers = sorted({record.buyer_identifier for record, _release in scope if record.buyer_identifier})
    flags = flag_source(session, ocids, buyers)
    data = ctx.watchdog_context(session, scope, flags, filters, period_start, period_end, _currency())
    return reuse_or_render(
        session,
        kind=ReportKind.WATCHDOG,
        subject=_watchdog_subject(filters),
        title=_("Watchdog report"),
        language=language,
        template="watchdog.html",
        data={"watchdog": data},
        now=now,
        requested_by=requested_by,
        origin=origin,
        parameters={
            "filters": filters.as_json(),
            "period_start": period_start.isoformat(),
            "period_end": period_end.isoformat(),
        },
        data_cutoff=min(now, period_end),
    )


# --------------------------------------------------------------------------------------------------- archive


def get_report(session: Session, report_id: int) -> ArchivedReport:
    report = session.get(ArchivedReport, report_id)
    if report is None:
        raise NotFound(_("No such report."))
    return report


def report_pdf(session: Session, report: ArchivedReport) -> bytes:
    """The archived bytes (the column is deferred, so loaded only here)."""
    pdf = session.scalar(select(ArchivedReport.pdf).where(ArchivedReport.id == report.id))
    if pdf is None:
        raise NotFound(_("No such report."))
    return bytes(pdf)


def verify_report(session: Session, pdf_bytes: bytes) -> ArchivedReport | None:
    """The archived report these bytes are an exact copy of, or None (altered, truncated or not from BOS)."""
    digest = hashlib.sha256(pdf_bytes).hexdigest()
    return find_by_sha256(session, digest)


def find_by_sha256(session: Session, sha256: str) -> ArchivedReport | None:
    digest = sha256.strip().lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise BadParameter(_("A SHA-256 is 64 hexadecimal characters."), {"sha256": [_("Not a SHA-256.")]})
    return session.scalars(select(ArchivedReport).where(ArchivedReport.sha256 == digest)).one_or_none()


def list_reports(session: Session, kind: ReportKind, subject: str, limit: int = 20) -> list[ArchivedReport]:
    return list(
        session.scalars(
            select(ArchivedReport)
            .where(ArchivedReport.kind == kind, ArchivedReport.subject == subject)
            .order_by(ArchivedReport.id.desc())
            .limit(limit)
        )
    )
