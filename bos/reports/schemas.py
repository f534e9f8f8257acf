"""Marshmallow schemas of the reports API: the language query, archive metadata and verification."""

from __future__ import annotations

from typing import Any

import orjson
from flask import url_for
from marshmallow import Schema, fields, validate

from bos.i18n import LANGUAGES
from bos.reports.models import ArchivedReport


class LanguageQuerySchema(Schema):
    lang = fields.String(
        load_default=None,
        validate=validate.OneOf(LANGUAGES),
        metadata={"description": "Report language: id (Bahasa Indonesia, the default) or en."},
    )


class ReportMetaSchema(Schema):
    id = fields.Integer()
    kind = fields.Function(lambda r: r.kind.value, metadata={"description": "dossier, buyer_profile or watchdog"})
    subject = fields.String(metadata={"description": "ocid, buyer id or watchdog filter key"})
    title = fields.String()
    language = fields.String()
    generated_at = fields.DateTime()
    data_cutoff = fields.DateTime(metadata={"description": "The data was read at this moment."})
    sha256 = fields.String(metadata={"description": "SHA-256 of the PDF bytes, to check a circulated copy."})
    size = fields.Integer(metadata={"description": "PDF size in bytes."})
    origin = fields.String(metadata={"description": "web, api, cli or job"})
    parameters = fields.Method("_parameters", metadata={"description": "Watchdog filters and period."})
    download_url = fields.Method("_download_url")

    def _parameters(self, report: ArchivedReport) -> Any:
        return orjson.loads(report.parameters) if report.parameters else None

    def _download_url(self, report: ArchivedReport) -> str:
        return url_for("reports_api.ArchivedPdf", report_id=report.id, _external=True)


class VerifyFilesSchema(Schema):
    pdf = fields.Raw(required=True, metadata={"type": "string", "format": "binary", "description": "The PDF copy."})


class VerifyResultSchema(Schema):
    match = fields.Boolean(metadata={"description": "True when the copy is byte for byte an archived report."})
    sha256 = fields.String(metadata={"description": "SHA-256 of the uploaded file."})
    report = fields.Nested(ReportMetaSchema, allow_none=True)
