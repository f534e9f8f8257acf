"""Translated labels of the OCDS codes a report shows (release tags, statuses, methods, roles).

Reports read the published OCDS record, so they show codelist codes; these turn them into words of the report's
language. A code without a label is shown as is: new codes from an imported publisher still print.
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from bos.red_flags.indicators import REGISTRY

_CODE_LABELS = {
    # releaseTag
    "planning": _l("Plan published"),
    "planningUpdate": _l("Plan updated"),
    "tender": _l("Tender announced"),
    "tenderAmendment": _l("Tender amended"),
    "tenderUpdate": _l("Tender updated"),
    "tenderCancellation": _l("Tender cancelled"),
    "award": _l("Award decided"),
    "awardUpdate": _l("Award updated"),
    "awardCancellation": _l("Award cancelled"),
    "contract": _l("Contract signed"),
    "contractUpdate": _l("Contract updated"),
    "contractAmendment": _l("Contract amended"),
    "implementation": _l("Implementation (payment)"),
    "implementationUpdate": _l("Implementation updated"),
    "contractTermination": _l("Contract closed"),
    # tender, award, contract, bid and milestone statuses
    "planned": _l("planned"),
    "active": _l("active"),
    "cancelled": _l("cancelled"),
    "unsuccessful": _l("unsuccessful"),
    "complete": _l("complete"),
    "withdrawn": _l("withdrawn"),
    "pending": _l("pending"),
    "terminated": _l("closed"),
    "invited": _l("invited"),
    "valid": _l("valid"),
    "disqualified": _l("disqualified"),
    "scheduled": _l("scheduled"),
    "met": _l("met"),
    "notMet": _l("not met"),
    "partiallyMet": _l("partially met"),
    # procurement methods and categories
    "open": _l("open"),
    "selective": _l("selective"),
    "limited": _l("limited"),
    "direct": _l("direct"),
    "goods": _l("goods"),
    "works": _l("works"),
    "services": _l("services"),
    # party roles
    "buyer": _l("buyer"),
    "procuringEntity": _l("procuring entity"),
    "supplier": _l("supplier"),
    "tenderer": _l("tenderer"),
    "payer": _l("payer"),
    "payee": _l("payee"),
    # flag statuses (the red-flag engine's and the indicators')
    "flagged": _l("flagged"),
    "cleared": _l("cleared"),
    "dismissed": _l("dismissed"),
    "confirmed": _l("confirmed"),
}


def code_label(code: object) -> str:
    if not isinstance(code, str):
        return "-"
    label = _CODE_LABELS.get(code)
    return str(label) if label is not None else code


def indicator_name(code: str, language: str) -> str:
    indicator = REGISTRY.get(code)
    if indicator is None:
        return code
    return indicator.name_en if language == "en" else indicator.name_id


def indicator_explanation(code: str, language: str) -> str:
    indicator = REGISTRY.get(code)
    if indicator is None:
        return ""
    return indicator.explanation_en if language == "en" else indicator.explanation_id


def report_kind_label(kind: str) -> str:
    return {
        "dossier": _("Process dossier"),
        "buyer_profile": _("Buyer profile"),
        "watchdog": _("Watchdog report"),
    }.get(kind, kind)


def response_label(kind: str) -> str:
    return {
        "response": _("Officer's response"),
        "annotation": _("Monitor's note"),
        "dismissal": _("Dismissed by an administrator"),
    }.get(kind, kind)
