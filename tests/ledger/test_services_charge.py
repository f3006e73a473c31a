"""ledger/services.py: what ingestion makes of a costed call (DESIGN.md
"Call"): ``cost = reported_cost`` when the call reports one (the provider's
bill is authoritative), else the computed cost, both kept; ``charge = cost x
fx_rate x (1 + markup)`` in the contract currency, to 10 places.

gpt-4o-mini (the ``light_model`` fixture) costs input 0.15 and output 0.60
USD per million tokens: 1000 input and 500 output tokens compute to
(1000 x 0.15 + 500 x 0.60) / 1e6 = (150 + 300) / 1e6 = 0.00045 USD."""

from decimal import Decimal

from tests.factories import CallRecordFactory, ContractFactory


def test_a_reported_cost_overrides_the_computed_one_and_both_are_kept(light_model, ingest_one_call):
    """The provider's bill says 0.0123, which becomes the cost (and the
    charge at fx 1, markup 0); the computed 0.00045 is kept beside it."""
    stored = ingest_one_call(
        ContractFactory(),
        CallRecordFactory(input_tokens=1000, output_tokens=500, reported_cost_usd="0.0123"),
    )

    assert stored.reported_cost_usd == Decimal("0.0123000000")
    assert stored.computed_cost_usd == Decimal("0.0004500000")
    assert stored.cost_usd == Decimal("0.0123000000")
    assert stored.charge == Decimal("0.0123000000")


def test_charge_applies_the_contract_fx_rate_and_markup(light_model, ingest_one_call):
    """EUR contract, fx 0.92, markup 0.20: charge = 0.00045 x 0.92 x 1.20
    = 0.0004968 EUR. The cost stays in USD."""
    eur = ContractFactory(currency="EUR", fx_rate=Decimal("0.92"), markup=Decimal("0.20"))

    stored = ingest_one_call(eur, CallRecordFactory(input_tokens=1000, output_tokens=500))

    assert stored.cost_usd == Decimal("0.0004500000")
    assert stored.charge == Decimal("0.0004968000")
