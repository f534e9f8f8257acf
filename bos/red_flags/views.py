"""HTML pages for red flags: the public list with evidence, and the per-process fragment the process page includes.

The fragment reads its data through the template global ``red_flags_of(ocid)``, so any page with a ``process``
(anything with an ``ocid``) can include ``red_flags/_process_flags.html`` without its view changing.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from bos.accounts.auth import web_actor
from bos.db import get_session
from bos.exceptions import BadParameter
from bos.red_flags import service
from bos.red_flags.indicators import REGISTRY
from bos.red_flags.schemas import FlagQuerySchema

bp = Blueprint("red_flags", __name__)


def _process_flags(ocid: str | None) -> dict[str, Any]:
    if not ocid:
        return {"flags": [], "summary": None, "not_flagged": [], "responses": {}}
    session = get_session()
    flags = service.process_flags(session, ocid)
    summary = service.process_summary(session, ocid)
    return {
        "flags": flags,
        "summary": summary,
        "not_flagged": service.not_flagged_codes(summary, flags),
        "responses": service.responses_for(session, [f.id for f in flags if f.status.value == "flagged"]),
    }


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    return {
        "red_flags_of": _process_flags,
        "red_flag_indicators": REGISTRY,
        "red_flag_evidence": service.evidence_of,
    }


@bp.get("/red-flags")
def index() -> str:
    try:
        query = {k: v for k, v in request.args.items() if v != "" and k != "lang"}
        args = FlagQuerySchema().load(query)
    except ValidationError as exc:
        raise BadParameter(_("Invalid filter."), exc.messages) from exc  # type: ignore[arg-type]
    filters = service.FlagFilters(
        indicator=args["indicator"],
        buyer=args["buyer"],
        supplier=args["supplier"],
        ocid=args["ocid"],
        since=args["since"],
        status=args["status"],
        source=args["source"],
    )
    session = get_session()
    page = service.list_flags(session, filters, args["cursor"], min(args["limit"], 200))
    actor = web_actor()
    next_url = None
    if page.next_cursor:
        params = {k: v for k, v in request.args.items() if k != "cursor"}
        next_url = url_for("red_flags.index", **params, cursor=page.next_cursor)
    return render_template(
        "red_flags/index.html",
        page=page,
        next_url=next_url,
        filters=filters,
        indicators=REGISTRY,
        responses=service.responses_for(session, [f.id for f in page.flags]),
        can_annotate=service.can_annotate(actor),
        can_dismiss=service.can_dismiss(actor),
        respondable={f.id for f in page.flags if service.can_respond(session, actor, f)},
    )


_ACTIONS = {
    "response": service.respond_to_flag,
    "annotation": service.annotate_flag,
    "dismissal": service.dismiss_flag,
}


@bp.post("/red-flags/<int:flag_id>/<kind>")
def add_text(flag_id: int, kind: str) -> Response:
    """Respond (buyer's officer), annotate (monitor) or dismiss (admin), from a form on the pages."""
    action = _ACTIONS.get(kind)
    if action is None:
        raise BadParameter(_("Unknown action."))
    action(get_session(), web_actor(), flag_id, request.form.get("body", ""))
    flash(_("Saved. It is public."))
    return redirect(request.form.get("next") or url_for("red_flags.index", ocid=request.args.get("ocid")))
