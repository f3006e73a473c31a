"""The live ROI read (API.md "Audit reads": roi; docs/ROI.md), through the
API, with every figure computed by hand.

The contract: markup 0.5 (charge = cost x 1.5), fixed fee 100 (never in the
live figures), task_completed worth 40 with a fee of 0.99, hours_saved at the
hourly rate 150 with no fee. Every call reports its cost and has 1,000 input
and 100 output tokens, so its baseline at gpt-4o (2.50 and 10.00 per
million) is (1000 x 2.5 + 100 x 10) / 10^6 = 0.0035.

    call  time (UTC)        model        task_type    task_ref  cost   charge
    c1    Mon 11-02 10:00   gpt-4o-mini  code_review  T1        0.001  0.0015
    c2    Mon 11-02 11:00   gpt-4o       code_review  T1        0.003  0.0045
    c3    Wed 11-04 09:00   gpt-4o-mini  support      T2        0      0
    c4    Wed 11-04 09:30   gpt-4o       support      T2        0      0
    c5    Tue 11-10 12:00   gpt-4o-mini  code_review  T3        0.002  0.003

    outcome  time (UTC)        kind            task_type    task_ref  value  fee
    o1       Mon 11-02 18:00   task_completed  code_review  T1        40     0.99
    o2       Wed 11-04 18:00   task_completed  support      T2        40     0.99
    o3       Tue 11-10 18:00   task_completed  code_review  T4        40     0.99
    o4       Wed 11-11 10:00   task_completed  code_review  T3        disputed: counts 0
    o5       Tue 11-03 08:00   hours_saved x2  support      (none)    300    0
"""

from decimal import Decimal

import pytest

from tests.conftest import client_for
from tests.factories import (
    ContractFactory,
    LlmModelFactory,
    OrganizationFactory,
    PriceFactory,
    ValueScheduleRowFactory,
    api_key_create,
)
from tests.factories import FeeScheduleRowFactory as FeeRow
from tests.helpers import assert_error

CALLS = [
    ("c1", "2026-11-02T10:00:00Z", "gpt-4o-mini", "code_review", "T1", "0.001"),
    ("c2", "2026-11-02T11:00:00Z", "gpt-4o", "code_review", "T1", "0.003"),
    ("c3", "2026-11-04T09:00:00Z", "gpt-4o-mini", "support", "T2", "0"),
    ("c4", "2026-11-04T09:30:00Z", "gpt-4o", "support", "T2", "0"),
    ("c5", "2026-11-10T12:00:00Z", "gpt-4o-mini", "code_review", "T3", "0.002"),
]
OUTCOMES = [
    ("o1", "2026-11-02T18:00:00Z", "task_completed", "code_review", "T1", "1"),
    ("o2", "2026-11-04T18:00:00Z", "task_completed", "support", "T2", "1"),
    ("o3", "2026-11-10T18:00:00Z", "task_completed", "code_review", "T4", "1"),
    ("o4", "2026-11-11T10:00:00Z", "task_completed", "code_review", "T3", "1"),
    ("o5", "2026-11-03T08:00:00Z", "hours_saved", "support", None, "2"),
]


def call_record(external_id, occurred_at, model, task_type, task_ref, cost) -> dict:
    return {
        "external_id": external_id,
        "occurred_at": occurred_at,
        "model": model,
        "task_type": task_type,
        "task_ref": task_ref,
        "input_tokens": 1000,
        "output_tokens": 100,
        "reported_cost_usd": cost,
    }


def outcome_record(external_id, occurred_at, kind, task_type, task_ref, quantity) -> dict:
    return {
        "external_id": external_id,
        "occurred_at": occurred_at,
        "kind": kind,
        "task_type": task_type,
        "task_ref": task_ref,
        "quantity": quantity,
    }


@pytest.fixture
def frontier(light_model):
    model = LlmModelFactory(name="gpt-4o", provider="openai", tier="frontier")
    PriceFactory(llm_model=model, input=Decimal("2.50"), output=Decimal("10.00"), cache_read=None)
    return model


def roi_contract(frontier, *, code="roi-co", timezone="UTC"):
    contract = ContractFactory(
        code=code,
        vendor=OrganizationFactory(slug="agentco"),
        customer=OrganizationFactory(slug="acme"),
        markup=Decimal("0.5"),
        fixed_fee=Decimal("100"),
        baseline_model=frontier,
        timezone=timezone,
    )
    ValueScheduleRowFactory(contract=contract, kind="task_completed", unit_value=Decimal("40"))
    FeeRow(contract=contract, kind="task_completed", fee=Decimal("0.99"))
    return contract


def ingest(contract, path: str, records: list[dict]) -> None:
    client = client_for(api_key_create(organization=contract.vendor, role="vendor"))
    response = client.post(
        f"/api/v1/contracts/{contract.code}/{path}", {"records": records}, format="json"
    )
    assert response.json() == {"accepted": len(records), "duplicates": 0, "rejected": []}


@pytest.fixture
def contract(frontier):
    contract = roi_contract(frontier)
    ingest(contract, "calls", [call_record(*row) for row in CALLS])
    ingest(contract, "outcomes", [outcome_record(*row) for row in OUTCOMES])
    admin = client_for(api_key_create(organization=OrganizationFactory(slug="op"), role="admin"))
    disputed = admin.post(
        "/api/v1/contracts/roi-co/outcomes/o4/disputes", {"reason": "reverted"}, format="json"
    )
    assert disputed.json()["status"] == "disputed"
    return contract


@pytest.fixture
def customer(contract):
    return client_for(api_key_create(organization=contract.customer, role="customer"))


def figures(
    calls, cost, usage, fees, charges, value, accepted, roi, baseline, savings, efficiency
) -> dict:
    return {
        "calls": calls,
        "cost_usd": cost,
        "usage_charges": usage,
        "outcome_fees": fees,
        "charges": charges,
        "value": value,
        "accepted_outcomes": accepted,
        "roi": roi,
        "baseline_cost_usd": baseline,
        "savings_usd": savings,
        "efficiency": efficiency,
    }


def group(key: str, *args) -> dict:
    return {"key": key, **figures(*args)}


# Whole range: 5 calls, cost 0.006, usage 0.009; accepted o1, o2, o3, o5:
# value 40 x 3 + 300 = 420, fees 0.99 x 3 = 2.97; charges 2.979;
# roi (420 - 2.979) / 2.979 = 139.98690..., baseline 5 x 0.0035 = 0.0175,
# efficiency 0.0175 / 0.006 = 2.91666...
TOTALS = figures(
    5,
    "0.0060000000",
    "0.0090000000",
    "2.9700000000",
    "2.9790000000",
    "420.0000000000",
    4,
    "139.9869",
    "0.0175000000",
    "0.0115000000",
    "2.9167",
)


def roi(client, query: str = "", code: str = "roi-co"):
    return client.get(f"/api/v1/contracts/{code}/roi{query}")


def test_by_model_an_outcome_is_split_over_its_calls_by_cost_or_equally_at_zero_cost(customer):
    """o1 (T1: c1 0.001 mini, c2 0.003 4o) splits 1:3: mini 10 and fee
    0.2475, 4o 30 and 0.7425. o2 (T2: c3, c4 both cost 0) splits equally:
    20 and 0.495 each. o3 (T4: no call) and o5 (no task_ref) are
    unattributed: value 340, fees 0.99.
    gpt-4o: charges 0.0045 + 0.7425 + 0.495 = 1.242, value 50,
    roi 48.758 / 1.242 = 39.25764..., efficiency 0.007 / 0.003 = 2.3333...
    gpt-4o-mini: charges 0.0045 + 0.2475 + 0.495 = 0.747, value 30,
    roi 29.253 / 0.747 = 39.16064..., efficiency 0.0105 / 0.003 = 3.5.
    unattributed: roi 339.01 / 0.99 = 342.43434..."""
    response = roi(customer, "?group_by=model")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["groups"] == [
        group(
            "gpt-4o",
            2,
            "0.0030000000",
            "0.0045000000",
            "1.2375000000",
            "1.2420000000",
            "50.0000000000",
            2,
            "39.2576",
            "0.0070000000",
            "0.0040000000",
            "2.3333",
        ),
        group(
            "gpt-4o-mini",
            3,
            "0.0030000000",
            "0.0045000000",
            "0.7425000000",
            "0.7470000000",
            "30.0000000000",
            2,
            "39.1606",
            "0.0105000000",
            "0.0075000000",
            "3.5000",
        ),
        group(
            "unattributed",
            0,
            "0.0000000000",
            "0.0000000000",
            "0.9900000000",
            "0.9900000000",
            "340.0000000000",
            2,
            "342.4343",
            "0.0000000000",
            "0.0000000000",
            None,
        ),
    ]
    assert body["totals"] == TOTALS


def test_the_report_names_currency_grouping_range_and_excludes_the_fixed_fee(customer):
    body = roi(customer, "?group_by=month&from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z")
    assert {k: v for k, v in body.json().items() if k not in ("groups", "totals")} == {
        "currency": "USD",
        "group_by": "month",
        "from": "2026-11-01T00:00:00Z",
        "to": "2026-12-01T00:00:00Z",
        "fixed_fee_excluded": True,
    }


def test_by_tier_groups_follow_the_models_tiers(customer):
    groups = roi(customer, "?group_by=tier").json()["groups"]
    assert [(g["key"], g["charges"], g["value"]) for g in groups] == [
        ("frontier", "1.2420000000", "50.0000000000"),
        ("light", "0.7470000000", "30.0000000000"),
        ("unattributed", "0.9900000000", "340.0000000000"),
    ]


def test_by_task_type_outcomes_count_under_their_own_task_type(customer):
    """code_review: c1, c2, c5 (cost 0.006, usage 0.009, baseline 0.0105);
    o1 and o3 (o4 is disputed): value 80, fees 1.98; charges 1.989,
    roi 78.011 / 1.989 = 39.22122..., efficiency 0.0105 / 0.006 = 1.75.
    support: c3, c4 (cost 0, baseline 0.007); o2 and o5: value 340,
    fees 0.99; roi 339.01 / 0.99 = 342.43434..., efficiency null."""
    body = roi(customer, "?group_by=task_type").json()
    assert body["groups"] == [
        group(
            "code_review",
            3,
            "0.0060000000",
            "0.0090000000",
            "1.9800000000",
            "1.9890000000",
            "80.0000000000",
            2,
            "39.2212",
            "0.0105000000",
            "0.0045000000",
            "1.7500",
        ),
        group(
            "support",
            2,
            "0.0000000000",
            "0.0000000000",
            "0.9900000000",
            "0.9900000000",
            "340.0000000000",
            2,
            "342.4343",
            "0.0070000000",
            "0.0070000000",
            None,
        ),
    ]
    assert body["totals"] == TOTALS


def test_by_day_each_local_day_carries_its_own_calls_and_outcomes(customer):
    """11-02: c1, c2, o1: charges 0.006 + 0.99, roi 39.004 / 0.996.
    11-03: o5 alone: no charges, so roi null. 11-04: c3, c4 (cost 0), o2:
    roi 39.01 / 0.99 = 39.40404... 11-10: c5, o3: charges 0.993,
    roi 39.007 / 0.993 = 39.28197... 11-11 holds only the disputed o4: no
    group."""
    body = roi(customer, "?group_by=day").json()
    assert body["groups"] == [
        group(
            "2026-11-02",
            2,
            "0.0040000000",
            "0.0060000000",
            "0.9900000000",
            "0.9960000000",
            "40.0000000000",
            1,
            "39.1606",
            "0.0070000000",
            "0.0030000000",
            "1.7500",
        ),
        group(
            "2026-11-03",
            0,
            "0.0000000000",
            "0.0000000000",
            "0.0000000000",
            "0.0000000000",
            "300.0000000000",
            1,
            None,
            "0.0000000000",
            "0.0000000000",
            None,
        ),
        group(
            "2026-11-04",
            2,
            "0.0000000000",
            "0.0000000000",
            "0.9900000000",
            "0.9900000000",
            "40.0000000000",
            1,
            "39.4040",
            "0.0070000000",
            "0.0070000000",
            None,
        ),
        group(
            "2026-11-10",
            1,
            "0.0020000000",
            "0.0030000000",
            "0.9900000000",
            "0.9930000000",
            "40.0000000000",
            1,
            "39.2820",
            "0.0035000000",
            "0.0015000000",
            "1.7500",
        ),
    ]
    assert body["totals"] == TOTALS


def test_by_week_weeks_start_on_monday(customer):
    """Week of Mon 11-02: c1..c4, o1, o2, o5: charges 0.006 + 1.98 = 1.986,
    value 380, roi 378.014 / 1.986 = 190.33937... Week of Mon 11-09: c5, o3."""
    groups = roi(customer, "?group_by=week").json()["groups"]
    assert [(g["key"], g["calls"], g["charges"], g["value"], g["roi"]) for g in groups] == [
        ("2026-11-02", 4, "1.9860000000", "380.0000000000", "190.3394"),
        ("2026-11-09", 1, "0.9930000000", "40.0000000000", "39.2820"),
    ]


def test_by_month_one_group_equals_the_totals(customer):
    body = roi(customer, "?group_by=month").json()
    assert body["groups"] == [{"key": "2026-11-01", **TOTALS}]


def test_outcomes_whose_calls_lie_outside_the_range_are_unattributed(customer):
    """[11-02 18:00, 11-05): o1 is in, its calls c1 and c2 are not, so o1 is
    unattributed with o5; o2 still splits over c3 and c4."""
    groups = roi(
        customer, "?group_by=model&from=2026-11-02T18:00:00Z&to=2026-11-05T00:00:00Z"
    ).json()["groups"]
    assert [(g["key"], g["calls"], g["outcome_fees"], g["value"]) for g in groups] == [
        ("gpt-4o", 1, "0.4950000000", "20.0000000000"),
        ("gpt-4o-mini", 1, "0.4950000000", "20.0000000000"),
        ("unattributed", 0, "0.9900000000", "340.0000000000"),
    ]


def test_the_range_is_half_open(customer):
    """to = c5's time excludes c5; from = c1's time includes c1."""
    body = roi(customer, "?group_by=day&from=2026-11-02T10:00:00Z&to=2026-11-10T12:00:00Z")
    assert body.json()["totals"]["calls"] == 4


def test_an_outcome_split_in_thirds_foots_exactly_with_the_remainder_on_the_last_call(
    frontier,
):
    """Three calls of cost 0 (mini, mini, 4o) share o's value 40 equally:
    cumulative shares truncated to 10 places are 13.3333333333,
    26.6666666666 and 40, so mini gets 26.6666666666 and 4o 13.3333333334."""
    contract = roi_contract(frontier, code="thirds")
    ingest(
        contract,
        "calls",
        [
            call_record("a", "2026-11-02T10:00:00Z", "gpt-4o-mini", "x", "T", "0"),
            call_record("b", "2026-11-02T10:01:00Z", "gpt-4o-mini", "x", "T", "0"),
            call_record("c", "2026-11-02T10:02:00Z", "gpt-4o", "x", "T", "0"),
        ],
    )
    ingest(
        contract,
        "outcomes",
        [outcome_record("o", "2026-11-02T18:00:00Z", "task_completed", "x", "T", "1")],
    )
    client = client_for(api_key_create(organization=contract.customer, role="customer"))
    body = roi(client, "?group_by=model", code="thirds").json()
    assert [(g["key"], g["value"], g["outcome_fees"]) for g in body["groups"]] == [
        ("gpt-4o", "13.3333333334", "0.3300000000"),
        ("gpt-4o-mini", "26.6666666666", "0.6600000000"),
    ]
    assert body["totals"]["value"] == "40.0000000000"


def test_in_los_angeles_days_weeks_and_months_are_local(frontier):
    """PST is UTC-8 in November 2026. 11-04 07:30Z is 11-03 23:30 local;
    11-04 08:30Z is 11-04 00:30; 11-09 07:30Z is Sunday 11-08 23:30, still
    in the week of Monday 11-02; 12-01 07:30Z is 11-30 23:30, in November."""
    contract = roi_contract(frontier, code="la", timezone="America/Los_Angeles")
    ingest(
        contract,
        "calls",
        [
            call_record("late", "2026-11-04T07:30:00Z", "gpt-4o-mini", "x", None, "0.001"),
            call_record("early", "2026-11-04T08:30:00Z", "gpt-4o-mini", "x", None, "0.002"),
            call_record("sunday", "2026-11-09T07:30:00Z", "gpt-4o-mini", "x", None, "0.004"),
            call_record("month-end", "2026-12-01T07:30:00Z", "gpt-4o-mini", "x", None, "0.008"),
        ],
    )
    client = client_for(api_key_create(organization=contract.customer, role="customer"))

    def keyed(group_by: str) -> list[tuple[str, str]]:
        groups = roi(client, f"?group_by={group_by}", code="la").json()["groups"]
        return [(g["key"], g["cost_usd"]) for g in groups]

    assert keyed("day") == [
        ("2026-11-03", "0.0010000000"),
        ("2026-11-04", "0.0020000000"),
        ("2026-11-08", "0.0040000000"),
        ("2026-11-30", "0.0080000000"),
    ]
    assert keyed("week") == [("2026-11-02", "0.0070000000"), ("2026-11-30", "0.0080000000")]
    assert keyed("month") == [("2026-11-01", "0.0150000000")]


def test_a_contract_with_nothing_stored_has_no_groups_and_zero_totals(frontier):
    contract = roi_contract(frontier, code="empty")
    client = client_for(api_key_create(organization=contract.customer, role="customer"))
    body = roi(client, "?group_by=day", code="empty").json()
    assert body["groups"] == []
    assert body["totals"] == figures(
        0,
        "0.0000000000",
        "0.0000000000",
        "0.0000000000",
        "0.0000000000",
        "0.0000000000",
        0,
        None,
        "0.0000000000",
        "0.0000000000",
        None,
    )


def test_the_vendor_reads_the_same_figures(contract):
    vendor = client_for(api_key_create(organization=contract.vendor, role="vendor"))
    assert roi(vendor, "?group_by=month").json()["totals"] == TOTALS


def test_an_unknown_group_by_is_400(customer):
    response = roi(customer, "?group_by=hour")
    assert_error(response, 400, "invalid")


def test_another_tenant_gets_404(contract):
    stranger = OrganizationFactory(slug="globex")
    ContractFactory(code="globex-agent", customer=stranger)
    client = client_for(api_key_create(organization=stranger, role="customer"))
    assert roi(client, "?group_by=day").status_code == 404
