import datetime as dt
import hashlib
import re
from decimal import Decimal

import pytest
from babel.numbers import format_currency
from sqlalchemy import func, select

from bos.enums import BidStatus
from bos.exceptions import BadParameter, NotFound
from bos.ocds.models import Record
from bos.reports import service
from bos.reports.models import ArchivedReport, ReportKind
from tests.reports import page_count, pdf_text

DOSSIER_ID = [
    "Ringkasan paket",
    "Riwayat publikasi",
    "Para pihak",
    "Rincian barang/jasa",
    "Penawaran",
    "Penetapan pemenang",
    "Kontrak",
    "Addendum",
    "Pembayaran",
    "Tanda bahaya",
    "Catatan OCDS",
]
DOSSIER_EN = [
    "Process at a glance",
    "Timeline of releases",
    "Parties",
    "Items",
    "Bids",
    "Award",
    "Contract",
    "Amendments",
    "Payments",
    "Red flags",
    "OCDS record",
]


def squash(text: str) -> str:
    """PDF text with line breaks and repeated spaces folded, so phrases wrapped over lines still match."""
    return re.sub(r"\s+", " ", text)


def archived_pdf(session, report: ArchivedReport) -> bytes:
    return service.report_pdf(session, report)


def test_dossier_is_indonesian_by_default_with_every_section(app_ctx, db_session, completed):
    report = service.render_dossier(db_session, completed.ocid)
    text = squash(pdf_text(archived_pdf(db_session, report)))
    assert report.language == "id"
    for heading in DOSSIER_ID:
        assert heading in text, heading
    assert completed.ocid in text
    assert f"/api/ocds/records/{completed.ocid}" in text
    assert "Halaman 1 / " in text  # page numbers in the footer
    assert "data per" in text  # generation time and data cut-off in the footer
    for bid in completed.tender.bids:  # opened bids are published, and printed
        assert bid.supplier.name in text


def test_dossier_in_english_on_request(app_ctx, db_session, completed):
    report = service.render_dossier(db_session, completed.ocid, "en")
    text = squash(pdf_text(archived_pdf(db_session, report)))
    for heading in DOSSIER_EN:
        assert heading in text, heading
    assert "Ringkasan paket" not in text
    assert "Page 1 / " in text
    assert "data cut-off" in text


def test_dossier_of_open_tender_prints_no_sealed_bid(app_ctx, db_session, open_tender):
    bids = [b for b in open_tender.tender.bids if b.status is not BidStatus.WITHDRAWN]
    assert bids, "the seeded open tender has sealed bids"
    for language in ("id", "en"):
        report = service.render_dossier(db_session, open_tender.ocid, language)
        raw = pdf_text(archived_pdf(db_session, report))
        text = squash(raw)
        digits = re.sub(r"\D", "", raw)
        for bid in open_tender.tender.bids:
            assert bid.supplier.name not in text
            assert format_currency(bid.value_amount, "IDR", locale=language, currency_digits=True) not in text
            assert str(int(bid.value_amount)) not in digits.replace(str(int(open_tender.tender.value_amount)), "")
        assert f"{len(bids)}." in text  # only the count of sealed bids is known
    assert "disegel" in squash(
        pdf_text(archived_pdf(db_session, service.render_dossier(db_session, open_tender.ocid)))
    )


def test_archive_keeps_the_bytes_and_their_sha256(app_ctx, db_session, completed):
    report = service.render_dossier(db_session, completed.ocid)
    pdf = archived_pdf(db_session, report)
    assert pdf.startswith(b"%PDF-")
    assert report.sha256 == hashlib.sha256(pdf).hexdigest()
    assert report.size == len(pdf)
    assert report.kind is ReportKind.DOSSIER
    assert report.subject == completed.ocid
    assert report.generated_at.tzinfo is not None
    assert report.data_cutoff <= report.generated_at + dt.timedelta(seconds=1)
    assert page_count(pdf) >= 2


def test_verify_finds_an_exact_copy_and_nothing_else(app_ctx, db_session, completed):
    report = service.render_dossier(db_session, completed.ocid)
    pdf = archived_pdf(db_session, report)
    assert service.verify_report(db_session, pdf).id == report.id
    assert service.find_by_sha256(db_session, report.sha256.upper()).id == report.id
    middle = len(pdf) // 2
    altered = pdf[:middle] + bytes([pdf[middle] ^ 1]) + pdf[middle + 1 :]
    assert service.verify_report(db_session, altered) is None
    assert service.verify_report(db_session, pdf[:-10]) is None
    with pytest.raises(BadParameter):
        service.find_by_sha256(db_session, "not-a-hash")


def test_unchanged_data_serves_the_archived_report_again(app_ctx, db_session, completed):
    first = service.render_dossier(db_session, completed.ocid, "id")
    again = service.render_dossier(db_session, completed.ocid, "id", now=first.generated_at + dt.timedelta(days=3))
    english = service.render_dossier(db_session, completed.ocid, "en")
    assert again.id == first.id
    assert english.id != first.id
    assert db_session.scalar(select(func.count()).select_from(ArchivedReport)) == 2


def test_changed_data_renders_a_new_report(app_ctx, db_session, completed, engine_flags):
    before = service.render_dossier(db_session, completed.ocid, flag_source=lambda *_: [])
    after = service.render_dossier(
        db_session,
        completed.ocid,
        flag_source=service.source_from(
            [service.FlagView("R003", completed.ocid, completed.ocid, "flagged", 2.0, 1.0, {"days": 2})]
        ),
    )
    assert after.id != before.id
    assert after.sha256 != before.sha256
    assert "R003" in pdf_text(archived_pdf(db_session, after))


def test_dossier_of_draft_or_unknown_process_is_not_found(app_ctx, db_session, seeded):
    with pytest.raises(NotFound):
        service.render_dossier(db_session, "ocds-test00-9999999")
    with pytest.raises(NotFound):
        service.render_dossier_of_process(db_session, 10**9)
    with pytest.raises(BadParameter):
        service.render_dossier(db_session, "ocds-test00-0000001", "fr")


def _flagged_ocid(db_session) -> str:
    from bos.red_flags.models import FlagStatus, RedFlag  # noqa: PLC0415

    return db_session.scalars(
        select(RedFlag.ocid)
        .where(RedFlag.status == FlagStatus.FLAGGED, RedFlag.ocid.is_not(None))
        .order_by(RedFlag.ocid)
        .limit(1)
    ).one()


def test_dossier_shows_engine_flags_with_evidence_and_response(app_ctx, db_session, engine_flags, users):
    from bos.red_flags.models import RedFlag, RedFlagResponse, ResponseKind  # noqa: PLC0415

    ocid = _flagged_ocid(db_session)
    flag = db_session.scalars(
        select(RedFlag).where(RedFlag.ocid == ocid, RedFlag.first_raised_at.is_not(None))
    ).first()
    db_session.add(
        RedFlagResponse(
            flag_id=flag.id,
            kind=ResponseKind.RESPONSE,
            user_id=users["officer"].id,
            body="Masa penawaran dipersingkat karena bencana banjir.",
        )
    )
    db_session.flush()

    views = service.flags_for_report(db_session, [ocid])
    assert {v.code for v in views} >= {flag.code}
    assert all(v.raised_at == engine_flags for v in views if v.status == "flagged")

    text = squash(pdf_text(archived_pdf(db_session, service.render_dossier(db_session, ocid))))
    assert flag.code in text
    assert "Masa penawaran dipersingkat karena bencana banjir." in text
    assert "Tanggapan pejabat" in text  # the officer's response, labelled
    assert "Kolom yang dibaca" in text  # evidence: the fields the indicator read


def test_flags_for_report_tells_standing_cleared_and_dismissed(app_ctx, db_session, engine_flags):
    from bos.red_flags.models import FlagStatus, RedFlag  # noqa: PLC0415

    ocid = _flagged_ocid(db_session)
    rows = db_session.scalars(
        select(RedFlag).where(RedFlag.ocid == ocid, RedFlag.status == FlagStatus.FLAGGED).order_by(RedFlag.id)
    ).all()
    later = engine_flags + dt.timedelta(days=1)
    rows[0].status = FlagStatus.NOT_FLAGGED
    rows[0].cleared_at = later
    if len(rows) > 1:
        rows[1].dismissed_at = later
    db_session.flush()
    views = {v.code: v for v in service.flags_for_report(db_session, [ocid])}
    cleared = views[rows[0].code]
    assert cleared.status == "cleared"
    assert cleared.standing_at(later - dt.timedelta(hours=1))
    assert not cleared.standing_at(later + dt.timedelta(hours=1))
    if len(rows) > 1:
        assert views[rows[1].code].status == "dismissed"
        assert not views[rows[1].code].standing_at(later + dt.timedelta(hours=1))


def test_buyer_profile_sections_in_both_languages(app_ctx, db_session, completed, engine_flags):
    report = service.render_buyer_profile(db_session, completed.buyer_id)
    text = squash(pdf_text(archived_pdf(db_session, report)))
    for heading in ("Belanja", "Metode pengadaan", "Penyedia terbesar", "Tanda bahaya dari waktu ke waktu"):
        assert heading in text, heading
    assert completed.buyer.name in text
    assert report.sha256 == hashlib.sha256(archived_pdf(db_session, report)).hexdigest()

    english = squash(
        pdf_text(archived_pdf(db_session, service.render_buyer_profile(db_session, completed.buyer_id, "en")))
    )
    for heading in ("Spending", "Procurement methods", "Top suppliers", "Red flags over time"):
        assert heading in english, heading


def test_buyer_profile_of_a_supplier_is_not_found(app_ctx, db_session, completed):
    with pytest.raises(NotFound):
        service.render_buyer_profile(db_session, completed.awards[0].suppliers[0].id)


def test_watchdog_report_lists_new_flags_of_the_period(app_ctx, db_session, engine_flags):
    from bos.red_flags.models import FlagStatus, RedFlag  # noqa: PLC0415

    buyer = db_session.scalars(
        select(Record.buyer_identifier)
        .join(RedFlag, RedFlag.ocid == Record.ocid)
        .where(RedFlag.status == FlagStatus.FLAGGED)
        .group_by(Record.buyer_identifier)
        .order_by(func.count().desc(), Record.buyer_identifier)
    ).first()
    from bos.parties.models import Organisation  # noqa: PLC0415

    org = next(
        o for o in db_session.scalars(select(Organisation)) if f"{o.identifier_scheme}-{o.identifier_id}" == buyer
    )
    filters = service.WatchdogFilters(buyer_ids=(org.id,))
    week = (engine_flags - dt.timedelta(days=6), engine_flags + dt.timedelta(days=1))
    report = service.render_watchdog_report(db_session, filters, *week, "en", now=week[1])
    text = squash(pdf_text(archived_pdf(db_session, report)))
    for heading in (
        "Watchdog report",
        "Riskiest processes",
        "New flags",
        "Cleared flags",
        "Standing flags by buyer",
        "Value by procurement method",
    ):
        assert heading in text, heading
    assert org.name in text
    ocids = db_session.scalars(select(Record.ocid).where(Record.buyer_identifier == buyer)).all()
    flagged = db_session.scalars(
        select(RedFlag.ocid).where(RedFlag.ocid.in_(ocids), RedFlag.status == FlagStatus.FLAGGED)
    ).all()
    assert flagged and all(ocid in text for ocid in flagged)
    assert report.kind is ReportKind.WATCHDOG
    assert report.data_cutoff == week[1]

    # A week before the flags were raised: nothing new, nothing standing.
    earlier = service.render_watchdog_report(
        db_session, filters, week[0] - dt.timedelta(days=7), week[0], "en", now=week[1]
    )
    assert "No new flag in the period." in squash(pdf_text(archived_pdf(db_session, earlier)))


def test_watchdog_report_from_pure_indicator_flags(app_ctx, db_session, seeded):
    """Flags computed by the indicators (not stored) feed the same report: what the alerts preview can use."""
    import orjson  # noqa: PLC0415

    from bos.red_flags.indicators import evaluate_dataset  # noqa: PLC0415

    records = db_session.scalars(select(Record).order_by(Record.id)).all()
    raised = {r.ocid: r.last_release_date for r in records}
    outcomes = evaluate_dataset([orjson.loads(r.compiled) for r in records])
    flags = service.flags_from_outcomes(outcomes, lambda o: raised.get(o.ocid or ""))
    assert flags
    end = max(raised.values()) + dt.timedelta(seconds=1)
    filters = service.WatchdogFilters(indicator_codes=("R003",), category="works", min_value=Decimal(1))
    report = service.render_watchdog_report(
        db_session, filters, end - dt.timedelta(days=365), end, flag_source=service.source_from(flags)
    )
    text = squash(pdf_text(archived_pdf(db_session, report)))
    assert "Laporan pemantauan" in text
    assert "R003" in text
    assert "R018 ·" not in text  # only the indicator asked for


def test_watchdog_period_must_be_valid(app_ctx, db_session, seeded):
    now = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
    with pytest.raises(BadParameter):
        service.render_watchdog_report(db_session, service.WatchdogFilters(), now, now)
    with pytest.raises(BadParameter):
        service.render_watchdog_report(db_session, service.WatchdogFilters(), now.replace(tzinfo=None), now)
