"""The red-flag API under /api/red-flags: the flag list (keyset pages), the indicator catalogue with coverage, bulk
files of every flag (JSON Lines gzip and CSV, streamed), and token-authenticated responses, annotations and
dismissals (the same service functions as the pages)."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from typing import Any

import orjson
from flask import Response, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint

from bos.accounts.auth import require_api_actor
from bos.db import get_session
from bos.extensions import csrf
from bos.red_flags import service
from bos.red_flags.engine import COMPOSITE
from bos.red_flags.schemas import (
    CatalogueSchema,
    FlagPageSchema,
    FlagQuerySchema,
    FlagSchema,
    ResponseSchema,
    TextInputSchema,
    flag_json,
)

blp = Blueprint(
    "red_flags_api",
    __name__,
    url_prefix="/api/red-flags",
    description="Red flags: risk indicators that call for a closer look, never proof of wrongdoing.",
)
# Token-authenticated only (never by cookie), so exempt from CSRF: see bos.accounts.auth.
csrf.exempt(blp)

CSV_COLUMNS = [
    "id",
    "source",
    "code",
    "grain",
    "subject",
    "key",
    "ocid",
    "buyer",
    "status",
    "dismissed",
    "value",
    "score",
    "rule_version",
    "first_raised_at",
    "last_confirmed_at",
    "cleared_at",
    "explanation",
    "evidence",
]


def _filters(args: dict[str, Any]) -> service.FlagFilters:
    return service.FlagFilters(
        indicator=args.get("indicator"),
        buyer=args.get("buyer"),
        supplier=args.get("supplier"),
        ocid=args.get("ocid"),
        since=args.get("since"),
        status=args.get("status") or "flagged",
        source=args.get("source"),
    )


@blp.route("")
class FlagList(MethodView):
    @blp.arguments(FlagQuerySchema, location="query")
    @blp.response(200, FlagPageSchema)
    def get(self, args: dict[str, Any]) -> service.FlagPage:
        """List flags (default: raised ones) in id order, in keyset pages; filters combine."""
        return service.list_flags(get_session(), _filters(args), args["cursor"], args["limit"])


@blp.route("/indicators")
class Catalogue(MethodView):
    @blp.response(200, CatalogueSchema)
    def get(self) -> dict[str, Any]:
        """The indicator catalogue: parameters, explanations, coverage, and how the composite score is made."""
        return {"indicators": service.catalogue(get_session()), "composite": COMPOSITE}


@blp.route("/<int:flag_id>")
class FlagDetail(MethodView):
    @blp.response(200, FlagSchema)
    def get(self, flag_id: int) -> Any:
        """One flag with its evidence."""
        return service.get_flag(get_session(), flag_id)


def _text_route(path: str, action: Any, doc: str) -> None:
    @blp.route(f"/<int:flag_id>/{path}", endpoint=path)
    class _Write(MethodView):
        @blp.arguments(TextInputSchema)
        @blp.response(201, ResponseSchema)
        @blp.alt_response(401, description="No or bad token")
        @blp.alt_response(403, description="Not allowed for this user")
        @blp.alt_response(422, description="Invalid text")
        def post(self, data: dict[str, Any], flag_id: int) -> Any:
            return action(get_session(), require_api_actor(), flag_id, data["body"])

    _Write.post.__doc__ = doc


_text_route("responses", service.respond_to_flag, "Respond publicly to a flag (the buyer's officers).")
_text_route("annotations", service.annotate_flag, "Annotate a flag publicly (monitors).")
_text_route("dismissals", service.dismiss_flag, "Dismiss a flag with a public reason (administrators).")


def _every_flag() -> Iterator[Any]:
    return service.iter_flags(get_session(), service.FlagFilters(status="any"))


@blp.route("/bulk/flags.jsonl.gz")
@blp.response(200, description="Every outcome, one JSON object a line, gzip")
def bulk_jsonl() -> Response:
    """Every stored outcome (all statuses) as gzip'd JSON Lines, streamed."""

    def generate() -> Iterator[bytes]:
        buffer = io.BytesIO()
        with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=6, mtime=0) as archive:
            for flag in _every_flag():
                archive.write(orjson.dumps(flag_json(flag)) + b"\n")
                if buffer.tell() > 64_000:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue()

    response = Response(stream_with_context(generate()), mimetype="application/gzip")
    response.headers["Content-Disposition"] = "attachment; filename=flags.jsonl.gz"
    return response


@blp.route("/bulk/flags.csv")
@blp.response(200, description="Every outcome as CSV")
def bulk_csv() -> Response:
    """Every stored outcome (all statuses) as CSV (evidence as a JSON string), streamed."""

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for count, flag in enumerate(_every_flag(), start=1):
            row = flag_json(flag)
            row["evidence"] = orjson.dumps(row["evidence"]).decode()
            writer.writerow(row)
            if count % 500 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    response = Response(stream_with_context(generate()), mimetype="text/csv")
    response.headers["Content-Disposition"] = "attachment; filename=flags.csv"
    return response
