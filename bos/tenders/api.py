"""JSON API over the tenders service (flask-smorest: OpenAPI comes from the marshmallow schemas)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from bos.db import get_session
from bos.tenders import service
from bos.tenders.schemas import ProcessPageSchema, ProcessQuerySchema, ProcessSchema

blp = Blueprint("tenders_api", __name__, url_prefix="/api/v1/processes", description="Contracting processes")


@blp.route("")
class ProcessList(MethodView):
    @blp.arguments(ProcessQuerySchema, location="query")
    @blp.response(200, ProcessPageSchema)
    def get(self, args: dict[str, Any]) -> service.ProcessPage:
        """List contracting processes, newest first, in keyset pages."""
        filters = service.ProcessFilters(
            stage=args["stage"], buyer_id=args["buyer"], method=args["method"], query=args["q"]
        )
        return service.list_processes(get_session(), filters, args["cursor"], args["limit"])


@blp.route("/<int:process_id>")
class ProcessDetail(MethodView):
    @blp.response(200, ProcessSchema)
    def get(self, process_id: int) -> Any:
        """One contracting process (bids are never listed here; see the OCDS record once opened)."""
        return service.get_process(get_session(), process_id)
