"""Report pages: PDF downloads of a process dossier and a buyer profile, and the page that verifies a copy."""

from __future__ import annotations

import hashlib

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _

from bos.accounts.auth import web_actor
from bos.db import get_session, writes_on_get
from bos.exceptions import BadParameter
from bos.extensions import csrf
from bos.i18n import current_language
from bos.reports import labels, service
from bos.reports.models import ArchivedReport

bp = Blueprint("reports", __name__)

MAX_UPLOAD_BYTES = 25 * 1024 * 1024  # far above any BOS report; a bigger file cannot be one


def pdf_response(report: ArchivedReport, pdf: bytes, download: bool = False) -> Response:
    """The archived bytes, with the hash in headers (the PDF itself cannot carry it)."""
    response = Response(pdf, mimetype="application/pdf")
    name = f"bos-{report.kind.value}-{report.subject.replace('/', '-').replace(':', '-')}-{report.language}.pdf"
    response.headers["Content-Disposition"] = f'{"attachment" if download else "inline"}; filename="{name}"'
    response.headers["X-Report-Id"] = str(report.id)
    response.headers["X-Report-SHA256"] = report.sha256
    response.headers["X-Data-Cutoff"] = report.data_cutoff.isoformat()
    response.set_etag(report.sha256)
    return response


@bp.get("/processes/<int:process_id>/dossier.pdf")
@writes_on_get  # archives the PDF it hands out
def dossier(process_id: int) -> Response:
    session = get_session()
    report = service.render_dossier_of_process(
        session, process_id, current_language(), requested_by=web_actor(), origin="web"
    )
    return pdf_response(report, service.report_pdf(session, report))


@bp.get("/buyers/<int:buyer_id>/profile.pdf")
@writes_on_get  # archives the PDF it hands out
def buyer_profile(buyer_id: int) -> Response:
    session = get_session()
    report = service.render_buyer_profile(
        session, buyer_id, current_language(), requested_by=web_actor(), origin="web"
    )
    return pdf_response(report, service.report_pdf(session, report))


@bp.get("/reports/verify")
def verify_form() -> str:
    return render_template("reports/verify.html", checked=False, report_kind_label=labels.report_kind_label)


@bp.post("/reports/verify")
@csrf.exempt  # reads only: checking a file changes nothing, and scripts may post to it without a session
def verify() -> str:
    session = get_session()
    upload = request.files.get("pdf")
    typed = (request.form.get("sha256") or "").strip()
    if upload is not None and upload.filename:
        data = upload.stream.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            raise BadParameter(_("The file is too large to be a BOS report."), {"pdf": [_("Too large.")]})
        digest = hashlib.sha256(data).hexdigest()
        report = service.verify_report(session, data)
    elif typed:
        digest = typed.lower()
        report = service.find_by_sha256(session, digest)
    else:
        raise BadParameter(_("Choose a PDF file or type its SHA-256."), {"pdf": [_("Missing.")]})
    return render_template(
        "reports/verify.html", checked=True, sha256=digest, report=report, report_kind_label=labels.report_kind_label
    )
