"""The default baseline model (DESIGN.md "Routing savings"): the dearest
frontier model among the contract's routing models, else among the models
its calls used, at each call's time; never a model the contract has
nothing to do with, so a catalog import cannot move it.

Prices per million tokens: gpt-4o-mini 0.15 / 0.60, gpt-4o 2.50 / 10.00,
and the imported gpt-ultra 100 / 300 (declared frontier by the operator).
A call has 1,000,000 input and 100,000 output tokens: 0.21 at gpt-4o-mini,
2.50 + 1.00 = 3.50 at gpt-4o, 100 + 30 = 130 at gpt-ultra.
"""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command

from core.batch import DecodedBatch
from ledger import ingestion
from ledger.models import Call, ContractModelUsed
from ledger.records import CallIn
from tests.factories import ContractFactory, LlmModelFactory, PriceFactory

D = Decimal
M = D(1_000_000)
ULTRA = (
    '{"gpt-ultra": {"input_cost_per_token": 0.0001, "output_cost_per_token": 0.0003,'
    ' "litellm_provider": "openai", "mode": "chat", "tier": "frontier"},'
    ' "gpt-new": {"input_cost_per_token": 0.0002, "output_cost_per_token": 0.0004,'
    ' "litellm_provider": "openai", "mode": "chat"}}'
)


def at_price(p_in: str, p_out: str) -> Decimal:
    return (1_000_000 * D(p_in) + 100_000 * D(p_out)) / M


@pytest.fixture
def frontier(light_model):
    model = LlmModelFactory(name="gpt-4o", provider="openai", tier="frontier")
    PriceFactory(llm_model=model, input=D("2.50"), output=D("10.00"))
    return model


def ingest(contract, *names_models) -> None:
    records = [
        CallIn(
            external_id=name,
            occurred_at=datetime(2026, 1, 5, tzinfo=UTC),
            model=model,
            task_type="triage",
            input_tokens=1_000_000,
            output_tokens=100_000,
        )
        for name, model in names_models
    ]
    report = ingestion.calls_record(contract=contract, batch=DecodedBatch.of(records))
    assert report.as_dict()["accepted"] == len(records)


def baselines(contract) -> dict[str, Decimal]:
    return dict(
        Call.objects.filter(contract=contract).values_list("external_id", "baseline_cost_usd")
    )


def test_a_catalog_import_does_not_change_any_existing_contracts_savings(
    frontier, contract, tmp_path, customer_client
):
    routed = ContractFactory(code="routed")
    routed.routing_models.set([frontier])
    ingest(routed, ("r-1", "gpt-4o-mini"))
    ingest(contract, ("c-1", "gpt-4o"), ("c-2", "gpt-4o-mini"))
    roi_url = f"/api/v1/contracts/{contract.code}/roi?group_by=model"
    before = customer_client.get(roi_url).json()["groups"]
    path = tmp_path / "litellm.json"
    path.write_text(ULTRA)

    call_command(
        "import_prices", "--litellm", str(path), "--effective-from", "2025-01-01T00:00:00Z"
    )
    ingest(routed, ("r-2", "gpt-4o-mini"))
    ingest(contract, ("c-3", "gpt-4o-mini"))

    gpt_4o = at_price("2.50", "10.00")
    assert baselines(routed) == {"r-1": gpt_4o, "r-2": gpt_4o}
    assert baselines(contract) == {"c-1": gpt_4o, "c-2": gpt_4o, "c-3": gpt_4o}
    # The calls stored before the import keep their savings.
    after = customer_client.get(roi_url).json()["groups"]
    assert [g for g in after if g["key"] == "gpt-4o"] == [g for g in before if g["key"] == "gpt-4o"]


def test_a_contract_without_a_frontier_model_of_its_own_claims_no_savings(frontier, contract):
    """gpt-4o is frontier and in the catalog, but this contract neither
    routes to it nor called it: no baseline, baseline cost = cost."""
    ingest(contract, ("c-1", "gpt-4o-mini"))

    assert baselines(contract) == {"c-1": at_price("0.15", "0.60")}


def test_routing_models_name_the_baseline_before_the_models_calls_used(frontier, contract):
    """The contract routes to gpt-4o-mini and gpt-4o; a call of a dearer
    frontier model does not move the baseline off gpt-4o."""
    ultra = LlmModelFactory(name="gpt-ultra", provider="openai", tier="frontier")
    PriceFactory(llm_model=ultra, input=D("100"), output=D("300"))
    contract.routing_models.set([frontier, LlmModelFactory(name="gpt-4o-mini")])

    ingest(contract, ("c-1", "gpt-ultra"), ("c-2", "gpt-4o-mini"))

    assert baselines(contract) == {
        "c-1": at_price("2.50", "10.00"),
        "c-2": at_price("2.50", "10.00"),
    }


def test_a_frontier_model_an_earlier_batch_used_is_the_baseline_of_later_batches(
    frontier, contract
):
    """Before any nightly rollup: the first batch's gpt-4o call makes gpt-4o
    the baseline of the second batch's gpt-4o-mini call."""
    ingest(contract, ("c-1", "gpt-4o"))
    ingest(contract, ("c-2", "gpt-4o-mini"))

    assert baselines(contract)["c-2"] == at_price("2.50", "10.00")
    assert ContractModelUsed.objects.filter(contract=contract).count() == 2
