"""ledger/attribution.py: one split of an outcome's value over the calls of
its task (DESIGN.md "Routing feedback"), read by live ROI (by model, by
tier) and by routing's realized figures (by task type and model, by policy
version); both must agree to the last unit."""

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ledger.attribution import EARLIEST, LATEST, attributed_sums, unattributed_sums
from ledger.models import Call, Outcome
from ledger.roi_selectors import UNATTRIBUTED, roi_outcome_sums
from routing.policy_selectors import realized_stats
from tests.conftest import client_for
from tests.factories import (
    ContractFactory,
    LlmModelFactory,
    PriceFactory,
    ValueScheduleRowFactory,
    api_key_create,
)

START = datetime(2026, 11, 2, tzinfo=UTC)
MODELS = (("cheap-a", "light"), ("cheap-b", "light"), ("mid-a", "mid"), ("top-a", "frontier"))


@pytest.fixture
def models(db):
    made = {}
    for name, tier in MODELS:
        model = LlmModelFactory(name=name, provider="openai", tier=tier)
        PriceFactory(llm_model=model, input=Decimal("1"), output=Decimal("2"), cache_read=None)
        made[name] = model
    return made


def contract_with(models, code: str):
    contract = ContractFactory(code=code, baseline_model=models["top-a"])
    ValueScheduleRowFactory(contract=contract, kind="task_completed", unit_value=Decimal("7"))
    return contract


def ingest(contract, path: str, records: list[dict]) -> None:
    client = client_for(api_key_create(organization=contract.vendor, role="vendor"))
    for chunk in range(0, len(records), 500):
        response = client.post(
            f"/api/v1/contracts/{contract.code}/{path}",
            {"records": records[chunk : chunk + 500]},
            format="json",
        )
        assert response.json()["rejected"] == []


def call(external_id: str, at: datetime, model: str, task_ref: str | None, cost: str, **extra):
    return {
        "external_id": external_id,
        "occurred_at": at.isoformat(),
        "model": model,
        "task_type": extra.pop("task_type", "code_review"),
        "task_ref": task_ref,
        "input_tokens": 100,
        "output_tokens": 10,
        "reported_cost_usd": cost,
        **extra,
    }


def outcome(external_id: str, at: datetime, task_ref: str | None, quantity: str, **extra):
    return {
        "external_id": external_id,
        "occurred_at": at.isoformat(),
        "kind": "task_completed",
        "task_type": extra.pop("task_type", "code_review"),
        "task_ref": task_ref,
        "quantity": quantity,
    }


def test_a_value_is_split_in_proportion_to_cost_and_its_parts_add_up(models):
    contract = contract_with(models, "split-co")
    ingest(
        contract,
        "calls",
        [
            call("c1", START, "cheap-a", "T1", "1"),
            call("c2", START + timedelta(hours=1), "top-a", "T1", "2"),
            call("c3", START, "cheap-a", "T2", "0"),
            call("c4", START, "cheap-b", "T2", "0"),
            call("c5", START, "mid-a", "T2", "0"),
        ],
    )
    # 7 each: T1 split 1:2 by cost, T2 in thirds (every call cost 0); T9
    # has no call.
    ingest(
        contract,
        "outcomes",
        [
            outcome("o1", START, "T1", "1"),
            outcome("o2", START, "T2", "1"),
            outcome("o3", START, "T9", "1"),
        ],
    )
    by_model = roi_outcome_sums(contract=contract, group_by="model", start=None, end=None)

    assert {key: sums.value for key, sums in by_model.items()} == {
        # T1: trunc(7 x 1/3), then 7 - trunc(7 x 1/3). T2 in call id order:
        # trunc(7 x 1/3), trunc(7 x 2/3) - trunc(7 x 1/3), 7 - trunc(7 x 2/3).
        "cheap-a": Decimal("2.3333333333") + Decimal("2.3333333333"),
        "top-a": Decimal("4.6666666667"),
        "cheap-b": Decimal("2.3333333333"),
        "mid-a": Decimal("2.3333333334"),
        UNATTRIBUTED: Decimal("7"),
    }
    assert sum(sums.value for sums in by_model.values()) == Decimal("21")


def random_world(models, code: str, seed: int) -> object:
    """Calls over four models, two task types and three policy versions
    (some none), with costs that do not divide evenly, zero-cost tasks, tasks
    without outcomes, outcomes without calls, several outcomes per task."""
    rng = random.Random(seed)
    contract = contract_with(models, code)
    names = [name for name, _ in MODELS]
    calls, outcomes = [], []
    for task in range(120):
        ref = f"T{task}"
        for n in range(rng.randint(1, 4)):
            cost = "0" if task % 7 == 0 else f"{rng.randint(1, 9999)}e-6"
            extra = {"task_type": ("code_review", "support")[task % 2]}
            if rng.random() < 0.8:
                extra["policy_version"] = rng.randint(1, 3)
            at = START + timedelta(minutes=task * 5 + n)
            calls.append(call(f"c{task}-{n}", at, rng.choice(names), ref, cost, **extra))
        for n in range(rng.choice((0, 1, 1, 2))):
            at = START + timedelta(minutes=task * 5 + 3)
            outcomes.append(outcome(f"o{task}-{n}", at, ref, str(rng.randint(1, 3))))
    outcomes.append(outcome("orphan", START, "nowhere", "1"))
    ingest(contract, "calls", calls)
    ingest(contract, "outcomes", outcomes)
    return contract


def test_roi_by_model_and_routing_figures_agree_to_the_unit(models):
    contract = random_world(models, "agree-co", seed=8)
    roi = roi_outcome_sums(contract=contract, group_by="model", start=None, end=None)
    routing = realized_stats(
        contract_id=contract.id, start=EARLIEST, end=LATEST, grouping="task_type_model"
    )
    names = {model.id: name for name, model in models.items()}
    per_model: dict[str, Decimal] = defaultdict(Decimal)
    for (_task_type, model_id), figures in routing.items():
        per_model[names[model_id]] += figures.attributed_value

    assert {key: sums.value for key, sums in roi.items() if key != UNATTRIBUTED} == {
        name: value for name, value in per_model.items() if value
    }


def test_every_reading_foots_with_the_accepted_value(models):
    contract = random_world(models, "foot-co", seed=3)
    accepted = sum(
        o.value
        for o in Outcome.objects.filter(contract=contract)
        if Call.objects.filter(contract=contract, task_ref=o.task_ref).exists()
    )
    for key in ("task_type_model", "label"):
        labels = {model.id: name for name, model in models.items()}
        groups = attributed_sums(
            contract_id=contract.id, start=EARLIEST, end=LATEST, key=key, labels=labels
        )
        assert sum(group.value for group in groups.values()) == accepted
    rest = unattributed_sums(contract_id=contract.id, start=EARLIEST, end=LATEST)
    assert (rest.outcomes, rest.value) == (1, Decimal("7"))


def test_calls_without_a_policy_version_weigh_in_the_split_but_form_no_group(models):
    contract = contract_with(models, "version-co")
    ingest(
        contract,
        "calls",
        [
            call("c1", START, "cheap-a", "T1", "1", policy_version=4),
            call("c2", START, "top-a", "T1", "3"),
        ],
    )
    ingest(contract, "outcomes", [outcome("o1", START, "T1", "1")])

    by_version = realized_stats(
        contract_id=contract.id, start=EARLIEST, end=LATEST, grouping="policy_version"
    )

    assert list(by_version) == [(4,)]
    assert (by_version[(4,)].tasks, by_version[(4,)].attributed_value) == (1, Decimal("1.75"))
