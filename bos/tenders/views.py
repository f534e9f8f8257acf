"""Public HTML pages for contracting processes: thin, parse → service → render."""

from __future__ import annotations

from flask import Blueprint, make_response, redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from bos.db import get_session
from bos.exceptions import BadParameter
from bos.i18n import LANGUAGES
from bos.tenders import service
from bos.tenders.schemas import ProcessQuerySchema

bp = Blueprint("tenders", __name__)


@bp.get("/")
def index() -> str:
    try:
        # The filter form sends "" for "all"; ``lang`` belongs to the language switch, not to the filter.
        query = {key: value for key, value in request.args.items() if value != "" and key != "lang"}
        args = ProcessQuerySchema().load(query)
    except ValidationError as exc:
        raise BadParameter("Invalid filter.", exc.normalized_messages()) from exc  # type: ignore[arg-type]
    session = get_session()
    filters = service.ProcessFilters(
        stage=args["stage"], buyer_id=args["buyer"], method=args["method"], query=args["q"]
    )
    page = service.list_processes(session, filters, args["cursor"], args["limit"])
    return render_template(
        "tenders/index.html",
        page=page,
        filters=filters,
        buyers=service.list_buyers(session),
        counts=service.stage_counts(session),
    )


@bp.get("/processes/<int:process_id>")
def detail(process_id: int) -> str:
    session = get_session()
    process = service.get_process(session, process_id)
    tender = process.tender
    return render_template(
        "tenders/detail.html",
        process=process,
        tender=tender,
        sealed=tender is not None and service.bids_are_sealed(tender),
        bid_count=service.bid_count(session, tender) if tender is not None else 0,
        contracts=service.process_contracts(session, process),
    )


@bp.get("/lang/<code>")
def set_language(code: str) -> Response:
    if code not in LANGUAGES:
        raise BadParameter("Unknown language.", {"code": [f"One of: {', '.join(LANGUAGES)}."]})
    target = request.referrer or url_for("tenders.index")
    response = make_response(redirect(target))
    response.set_cookie("lang", code, max_age=365 * 24 * 3600, samesite="Lax")
    return response
