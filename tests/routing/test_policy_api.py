"""routing/api/policy.py: the policy, route and versions endpoints (API.md
"Routing"), scoped to the caller like every contract endpoint."""

import time
from datetime import timedelta
from types import SimpleNamespace

import numpy as np
import pytest
from django.contrib.auth.models import User

import billing.auth
from ledger import decision_log
from ledger.models import RouteDecision
from routing.learning import policy_learn_for_contract
from routing.serving import route_for_contract
from tests.conftest import client_for
from tests.factories import ContractFactory, OrganizationFactory, api_key_create
from tests.helpers import assert_error
from tests.routing.policy_world import AS_OF, calls_add, outcomes_add, priced_model

POLICY = "/api/v1/contracts/acme-agent/routing/policy"
ROUTE = "/api/v1/contracts/acme-agent/routing/route"
VERSIONS = "/api/v1/contracts/acme-agent/routing/versions"
DECISIONS = "/api/v1/contracts/acme-agent/routing/decisions"
CALLS = "/api/v1/contracts/acme-agent/calls"


@pytest.fixture
def learned(contract):
    """Version 1: gpt-4o-mini the only model seen on "review"."""
    priced_model("frontier-model", "frontier")
    contract.routing_min_tasks = 1
    contract.save()
    calls_add(contract, [("review", "t1", "gpt-4o-mini", "2")])
    outcomes_add(contract, ["t1"], "review")
    return policy_learn_for_contract(contract=contract, as_of=AS_OF).policy


@pytest.fixture
def stranger_client(db):
    other = ContractFactory(code="other-agent")
    return client_for(api_key_create(organization=other.vendor, role="vendor"))


def test_a_contract_routes_from_its_creation_on_over_its_candidates(vendor_client, contract):
    frontier = priced_model("frontier-model", "frontier")
    contract.routing_models.set([contract_light(contract), frontier])

    answer = vendor_client.post(ROUTE, {"task_type": "review", "key": "k-1"}, format="json")
    policy = vendor_client.get(POLICY).json()

    assert answer.status_code == 200, answer.content
    assert (answer.json()["policy_version"], answer.json()["probability"]) == (1, "0.5000000000")
    assert answer.json()["model"] in {"gpt-4o-mini", "frontier-model"}
    assert (policy["version"], policy["guard"]["verdict"]) == (1, "cold_start")
    assert policy["default"]["weights"] == {
        "frontier-model": "0.5000000000",
        "gpt-4o-mini": "0.5000000000",
    }


def contract_light(contract):
    from routing.models import LlmModel

    return LlmModel.objects.get(name="gpt-4o-mini")


def test_a_decision_is_answered_and_stored_with_its_features(vendor_client, learned):
    features = [float(i) / 7 for i in range(32)]
    body = {"task_type": "review", "key": "PR-1", "features": features}

    first = vendor_client.post(ROUTE, body, format="json").json()
    again = vendor_client.post(ROUTE, body, format="json").json()

    stored = RouteDecision.objects.get(route_id=first["route_id"])
    assert set(first) == {"route_id", "model", "policy_version", "probability", "explored"}
    assert (again["model"], again["policy_version"]) == (first["model"], first["policy_version"])
    assert again["route_id"] != first["route_id"]
    assert (stored.task_type, stored.key, stored.policy_version, stored.llm_model.name) == (
        "review",
        "PR-1",
        learned.version,
        first["model"],
    )
    assert str(stored.probability) == first["probability"]
    assert np.frombuffer(bytes(stored.features), dtype="<f8").tolist() == features


def test_decisions_are_listed_to_the_vendor_and_not_to_the_customer(
    vendor_client, customer_client, learned
):
    routed = vendor_client.post(ROUTE, {"task_type": "review", "key": "k"}, format="json").json()

    listed = vendor_client.get(DECISIONS).json()
    hidden = customer_client.get(DECISIONS)

    assert [(d["route_id"], d["model"], d["features"]) for d in listed["results"]] == [
        (routed["route_id"], routed["model"], None)
    ]
    assert hidden.status_code == 404


def test_a_customer_cannot_route_for_the_vendor(customer_client, learned):
    answer = customer_client.post(ROUTE, {"task_type": "review", "key": "k"}, format="json")

    assert answer.status_code == 404
    assert RouteDecision.objects.count() == 0


def test_a_call_naming_another_contracts_decision_is_rejected(vendor_client, learned, contract):
    other = ContractFactory(code="other-agent")
    other.routing_models.set([contract_light(contract)])
    theirs = route_for_contract(contract_id=other.id, task_type="review", key="k")
    ours = vendor_client.post(ROUTE, {"task_type": "review", "key": "k"}, format="json").json()
    call = {
        "occurred_at": "2026-11-19T10:00:00Z",
        "model": "gpt-4o-mini",
        "task_type": "review",
        "input_tokens": 10,
        "output_tokens": 1,
    }
    records = [
        call | {"external_id": "c-theirs", "route_id": theirs.route_id},
        call | {"external_id": "c-ours", "route_id": ours["route_id"]},
    ]

    report = vendor_client.post(CALLS, {"records": records}, format="json").json()

    assert report["accepted"] == 1
    assert [(r["external_id"], r["errors"][0]["code"]) for r in report["rejected"]] == [
        ("c-theirs", "unknown_route")
    ]


def test_features_of_another_length_than_the_featurizer_are_refused(vendor_client, learned):
    answer = vendor_client.post(
        ROUTE, {"task_type": "review", "key": "k", "features": [0.5] * 31}, format="json"
    )

    assert_error(answer, 400, "invalid_features")


def test_the_current_policy_is_the_latest_as_of_and_any_version_reads_back(
    vendor_client, learned, contract
):
    earlier = policy_learn_for_contract(contract=contract, as_of=AS_OF - timedelta(days=3)).policy

    current = vendor_client.get(POLICY).json()
    named = vendor_client.get(f"{POLICY}?version={earlier.version}").json()
    missing = vendor_client.get(f"{POLICY}?version=99")

    assert (current["version"], named["version"]) == (learned.version, earlier.version)
    assert missing.status_code == 404


def test_a_new_version_is_served_from_the_next_request_on(vendor_client, learned, contract):
    later = policy_learn_for_contract(contract=contract, as_of=AS_OF + timedelta(days=1)).policy

    answer = vendor_client.post(ROUTE, {"task_type": "review", "key": "k"}, format="json")

    assert answer.json()["policy_version"] == later.version


def test_route_without_a_key_is_a_bad_request(vendor_client, learned):
    answer = vendor_client.post(ROUTE, {"task_type": "review"}, format="json")

    assert_error(answer, 400, "invalid")


def test_route_with_a_body_that_is_not_json_is_malformed(vendor_client, learned):
    answer = vendor_client.post(ROUTE, "{", content_type="application/json")

    assert_error(answer, 400, "malformed")


def test_versions_show_the_promotion_guard_of_each_version(vendor_client, learned, contract):
    calls_add(contract, [("review", "v1a", "gpt-4o-mini", "4")], policy_version=learned.version)
    outcomes_add(contract, ["v1a"], "review")

    rows = vendor_client.get(VERSIONS).json()["results"]

    assert [(r["version"], r["tasks"], r["guard"]["verdict"]) for r in rows] == [
        (learned.version, 1, learned.guard["verdict"])
    ]


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("get", POLICY, None),
        ("post", ROUTE, {"task_type": "review", "key": "k"}),
        ("get", VERSIONS, None),
        ("get", DECISIONS, None),
    ],
)
def test_another_tenants_key_gets_404(stranger_client, learned, method, url, body):
    answer = getattr(stranger_client, method)(url, body, format="json")

    assert_error(answer, 404, "not_found")


def test_no_key_gets_401(client, learned):
    assert client.post(ROUTE, {"task_type": "review", "key": "k"}, format="json").status_code == 401


def test_the_customer_of_another_contract_gets_404(learned):
    other_customer = OrganizationFactory(slug="someone-else")
    client = client_for(api_key_create(organization=other_customer, role="customer"))

    assert client.get(POLICY).status_code == 404


def test_the_admin_compares_versions_by_realized_figures(client, learned, contract):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    calls_add(contract, [("review", "v1a", "gpt-4o-mini", "4")], policy_version=1)
    outcomes_add(contract, ["v1a"], "review")

    listing = client.get("/admin/routing/policyversion/").content.decode()
    detail = client.get(f"/admin/routing/policyversion/{learned.id}/change/")

    assert ("1.0000" in listing, "10.00" in listing, "4.00" in listing) == (True, True, True)
    assert "gpt-4o-mini" in detail.content.decode()


def test_route_errors_leave_in_the_envelope_with_their_headers(
    vendor_client, client, learned, settings, monkeypatch
):
    """The route view answers outside DRF's dispatch; its 401 and 429 look
    like every other view's."""
    clock = SimpleNamespace(time=lambda: 1_800_000_030.0, monotonic=time.monotonic)
    monkeypatch.setattr(billing.auth, "time", clock)
    settings.API_RATE_LIMIT_PER_MINUTE = 1
    body = {"task_type": "review", "key": "k"}

    anonymous = client.post(ROUTE, body, content_type="application/json")
    first = vendor_client.post(ROUTE, body, format="json")
    throttled = vendor_client.post(ROUTE, body, format="json")

    assert_error(anonymous, 401, "unauthenticated")
    assert anonymous["WWW-Authenticate"] == "Bearer"
    assert first.status_code == 200
    assert_error(throttled, 429, "throttled")
    assert throttled["Retry-After"] == "30"


def test_a_renamed_model_keeps_being_routed_to_under_its_old_name(vendor_client, learned):
    from routing.models import LlmModel
    from routing.services import model_update

    light = LlmModel.objects.get(name="gpt-4o-mini")
    model_update(model=light, name="gpt-4o-mini-2024", provider="openai", tier="light", aliases=[])

    answers = [
        vendor_client.post(ROUTE, {"task_type": "review", "key": f"k-{i}"}, format="json")
        for i in range(40)
    ]

    assert {answer.status_code for answer in answers} == {200}
    assert list(light.aliases.values_list("alias", flat=True)) == ["gpt-4o-mini"]
    stored = RouteDecision.objects.filter(llm_model=light).count()
    assert stored == sum(answer.json()["model"] == "gpt-4o-mini" for answer in answers) > 0


def test_a_model_gone_from_the_catalog_is_no_route_not_a_server_error(vendor_client, learned):
    from routing.models import LlmModel
    from routing.services import model_update

    light = LlmModel.objects.get(name="gpt-4o-mini")
    model_update(model=light, name="renamed", provider="openai", tier="light", aliases=["x"])
    model_update(model=light, name="renamed", provider="openai", tier="light", aliases=["x"])
    light.aliases.filter(alias="gpt-4o-mini").delete()

    answers = [
        vendor_client.post(ROUTE, {"task_type": "review", "key": f"k-{i}"}, format="json")
        for i in range(40)
    ]

    refused = [answer for answer in answers if answer.status_code != 200]
    assert refused, "some keys route to the light model"
    for answer in refused:
        assert "no longer in the catalog" in assert_error(answer, 404, "no_route")["message"]


@pytest.fixture
def spooled(settings, tmp_path):
    """Decisions go to a spool this test stores itself (no background swap)."""
    settings.ROUTE_DECISION_SPOOL_DIR = str(tmp_path)
    settings.ROUTE_DECISION_SPOOL_SECONDS = 3600
    yield tmp_path
    decision_log.spools_close()
    decision_log.spool_drain()


def test_a_spooled_decision_is_stored_later_and_its_call_is_accepted_before(
    vendor_client, learned, spooled
):
    routed = vendor_client.post(ROUTE, {"task_type": "review", "key": "k"}, format="json").json()
    call = {
        "external_id": "c-1",
        "occurred_at": "2026-11-19T10:00:00Z",
        "model": routed["model"],
        "task_type": "review",
        "input_tokens": 10,
        "output_tokens": 1,
        "route_id": routed["route_id"],
    }

    before = RouteDecision.objects.count()
    report = vendor_client.post(CALLS, {"records": [call]}, format="json").json()
    decision_log.spools_close()
    decision_log.spool_drain()

    assert before == 0
    assert (report["accepted"], report["rejected"]) == (1, [])
    listed = vendor_client.get(DECISIONS).json()["results"]
    assert [(d["route_id"], d["model"]) for d in listed] == [(routed["route_id"], routed["model"])]
    assert list(spooled.iterdir()) == []


@pytest.mark.parametrize("field", ["task_type", "key"])
def test_a_route_request_holding_u0000_is_refused_and_nothing_stored(vendor_client, learned, field):
    body = {"task_type": "review", "key": "k"} | {field: "a\u0000b"}

    answer = vendor_client.post(ROUTE, body, format="json")

    assert_error(answer, 400, "nul_character")
    assert RouteDecision.objects.count() == 0
