"""Registry contract: metadata, parameters, and evaluating one release alone."""

from __future__ import annotations

import json

import pytest

from bos.red_flags.indicators import (
    REGISTRY,
    effective_params,
)
from tests.red_flags.helpers import process, run


def test_registry_metadata_is_complete() -> None:
    for code, indicator in REGISTRY.items():
        assert indicator.code == code
        assert indicator.name_id
        assert indicator.name_en
        assert "bukan bukti" in indicator.explanation_id
        assert "not proof" in indicator.explanation_en
        assert indicator.version >= 1
        assert (indicator.evaluate is None) != (indicator.evaluate_group is None)
        json.dumps(indicator.params)


def test_effective_params_layers_and_rejects_unknown_settings() -> None:
    params = effective_params("R003", {"currency": "IDR", "R003": {"threshold": 10}})
    assert params["threshold"] == 10
    assert params["currency"] == "IDR"
    with pytest.raises(ValueError, match="unknown setting"):
        effective_params("R003", {"R003": {"nope": 1}})
    with pytest.raises(ValueError, match="unknown global setting"):
        effective_params("R003", {"nope": 1})


def test_global_exclusions_make_single_release_evaluation_not_applicable() -> None:
    cancelled = process(tender={"status": "cancelled", "numberOfTenderers": 1, "procurementMethod": "open"})
    assert run("R018", cancelled).status == "not_applicable"
    assert REGISTRY["R018"].evaluate({"ocid": 5}, effective_params("R018"), None) == []  # type: ignore[misc]
