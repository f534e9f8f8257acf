"""Reports API under /api/v1/reports: PDFs generated on demand, archived PDFs and their metadata, verification.

Reads need no account. Generating is idempotent: while the data behind a report is unchanged, the archived PDF is
served again (same bytes, same SHA-256) rather than a new one.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Response, current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from bos.accounts.auth import api_actor
from bos.db import get_session, writes_on_get
from bos.exceptions import BadParameter
from bos.extensions import csrf
from bos.reports import service
from bos.reports.models import ArchivedReport
from bos.reports.schemas import LanguageQuerySchema, ReportMetaSchema, VerifyFilesSchema, VerifyResultSchema
from bos.reports.views import MAX_UPLOAD_BYTES, pdf_response

blp = Blueprint(
    "reports_api",
    __name__,
    url_prefix="/api/v1/reports",
    description="PDF reports (process dossiers, buyer profiles, watchdog reports), their archive and verification.",
)
csrf.exempt(blp)

PDF_DESCRIPTION = "The PDF. Headers: X-Report-Id (archive id), X-Report-SHA256 (the PDF's SHA-256), X-Data-Cutoff."
PDF_SCHEMA = {"type": "string", "format": "binary"}


def _language(args: dict[str, Any]) -> str:
    # The API's default is the service's default language, not a browser cookie.
    return args["lang"] or current_app.config["LOCALE"]


def _pdf(report: ArchivedReport) -> Response:
    return pdf_response(report, service.report_pdf(get_session(), report))


@blp.route("/processes/<int:process_id>/dossier")
@writes_on_get  # archives the PDF it hands out
class ProcessDossier(MethodView):
    @blp.arguments(LanguageQuerySchema, location="query")
    @blp.response(200, PDF_SCHEMA, content_type="application/pdf", description=PDF_DESCRIPTION)
    @blp.alt_response(404, description="No such published process")
    def get(self, args: dict[str, Any], process_id: int) -> Response:
        """The dossier of a published contracting process (archived; served again while its data is unchanged)."""
        report = service.render_dossier_of_process(
            get_session(), process_id, _language(args), requested_by=api_actor(), origin="api"
        )
        return _pdf(report)


@blp.route("/buyers/<int:buyer_id>/profile")
@writes_on_get  # archives the PDF it hands out
class BuyerProfile(MethodView):
    @blp.arguments(LanguageQuerySchema, location="query")
    @blp.response(200, PDF_SCHEMA, content_type="application/pdf", description=PDF_DESCRIPTION)
    @blp.alt_response(404, description="No such buyer")
    def get(self, args: dict[str, Any], buyer_id: int) -> Response:
        """The profile of a buyer: spending, methods, top suppliers and red flags over time."""
        report = service.render_buyer_profile(
            get_session(), buyer_id, _language(args), requested_by=api_actor(), origin="api"
        )
        return _pdf(report)


@blp.route("/<int:report_id>")
class ArchivedPdf(MethodView):
    @blp.response(200, PDF_SCHEMA, content_type="application/pdf", description=PDF_DESCRIPTION)
    @blp.alt_response(404, description="No such report")
    def get(self, report_id: int) -> Response:
        """An archived report, byte for byte as it was handed out."""
        return _pdf(service.get_report(get_session(), report_id))


@blp.route("/<int:report_id>/meta")
class ArchivedMeta(MethodView):
    @blp.response(200, ReportMetaSchema)
    @blp.alt_response(404, description="No such report")
    def get(self, report_id: int) -> ArchivedReport:
        """What an archived report is: kind, subject, language, generation time, data cut-off, SHA-256 and size."""
        return service.get_report(get_session(), report_id)


@blp.route("/verify")
class Verify(MethodView):
    @blp.arguments(VerifyFilesSchema, location="files")
    @blp.response(200, VerifyResultSchema)
    def post(self, files: dict[str, Any]) -> dict[str, Any]:
        """Check a copy (multipart field ``pdf``): does it match an archived report byte for byte?"""
        data = files["pdf"].stream.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            raise BadParameter("The file is too large to be a BOS report.", {"pdf": ["Too large."]})
        report = service.verify_report(get_session(), data)
        return {"match": report is not None, "sha256": hashlib.sha256(data).hexdigest(), "report": report}
