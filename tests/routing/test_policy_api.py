"""routing/policy_api.py: the policy, route and versions endpoints (API.md
"Routing"), scoped to the caller like every contract endpoint."""

import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import User

import billing.auth
from routing.learning import policy_learn_for_contract
from tests.conftest import client_for
from tests.factories import ContractFactory, OrganizationFactory, api_key_create
from tests.routing.policy_world import AS_OF, DAY_BEFORE, calls_add, outcomes_add, priced_model

POLICY = "/api/v1/contracts/acme-agent/routing/policy"
ROUTE = "/api/v1/contracts/acme-agent/routing/route"
VERSIONS = "/api/v1/contracts/acme-agent/routing/versions"


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


def test_the_policy_shows_the_current_version_with_weights_and_inputs(vendor_client, learned):
    body = vendor_client.get(POLICY).json()

    assert (body["version"], list(body["task_types"])) == (1, ["review"])
    assert body["task_types"]["review"]["weights"] == {"gpt-4o-mini": "1.0000000000"}
    assert body["task_types"]["review"]["inputs"]["models"]["gpt-4o-mini"]["tasks"] == 1
    assert body["default"]["weights"] == {"frontier-model": "1.0000000000"}


def test_the_policy_of_an_unknown_task_type_is_the_cold_start_default(customer_client, learned):
    body = customer_client.get(POLICY, {"task_type": "translation"}).json()

    assert body["task_types"] == {"translation": learned.default}


def test_route_answers_the_model_and_version_and_the_same_key_gives_the_same_model(
    vendor_client, learned
):
    answers = [
        vendor_client.post(ROUTE, {"task_type": "review", "key": "PR-9"}, format="json")
        for _ in (1, 2)
    ]

    assert [a.json() for a in answers] == [{"model": "gpt-4o-mini", "policy_version": 1}] * 2


def test_route_for_an_unknown_task_type_uses_the_default_weights(vendor_client, learned):
    answer = vendor_client.post(ROUTE, {"task_type": "translation", "key": "x"}, format="json")

    assert answer.json() == {"model": "frontier-model", "policy_version": 1}


def test_a_new_version_is_served_from_the_next_request_on(vendor_client, learned, contract):
    vendor_client.post(ROUTE, {"task_type": "review", "key": "k"}, format="json")
    policy_learn_for_contract(contract=contract, as_of=AS_OF + timedelta(days=40))

    answer = vendor_client.post(ROUTE, {"task_type": "review", "key": "k"}, format="json")

    # Nothing in the new window: "review" now routes by the default weights.
    assert answer.json() == {"model": "frontier-model", "policy_version": 2}


def test_route_without_a_key_is_a_bad_request(vendor_client, learned):
    answer = vendor_client.post(ROUTE, {"task_type": "review"}, format="json")

    assert (answer.status_code, answer.json()["error"]["code"]) == (400, "invalid")


def test_route_with_a_body_that_is_not_json_is_malformed(vendor_client, learned):
    answer = vendor_client.post(ROUTE, "task_type=review", content_type="application/json")

    assert (answer.status_code, answer.json()["error"]["code"]) == (400, "malformed")


def test_before_the_first_nightly_run_there_is_no_policy(vendor_client, contract):
    answers = [
        vendor_client.get(POLICY),
        vendor_client.post(ROUTE, {"task_type": "a", "key": "k"}, format="json"),
    ]

    assert [(a.status_code, a.json()["error"]["code"]) for a in answers] == [(404, "no_policy")] * 2


def test_versions_are_compared_by_what_the_calls_they_routed_achieved(
    vendor_client, learned, contract
):
    policy_learn_for_contract(contract=contract, as_of=AS_OF + timedelta(days=1))
    calls_add(
        contract,
        [("review", "v1a", "gpt-4o-mini", "4"), ("review", "v1b", "gpt-4o-mini", "4")],
        policy_version=1,
    )
    calls_add(contract, [("review", "v2a", "frontier-model", "10")], policy_version=2)
    outcomes_add(contract, ["v1a", "v2a"], "review")

    rows = vendor_client.get(VERSIONS).json()["results"]

    assert [
        (
            r["version"],
            r["tasks"],
            r["successes"],
            r["success_rate"],
            r["cost_usd"],
            r["value_per_dollar"],
        )
        for r in rows
    ] == [
        (1, 2, 1, "0.5000000000", "8.0000000000", "5.0000000000"),
        (2, 1, 1, "1.0000000000", "10.0000000000", "4.0000000000"),
    ]


def test_versions_count_only_calls_inside_from_and_to(vendor_client, learned, contract):
    calls_add(contract, [("review", "v1a", "gpt-4o-mini", "4")], policy_version=1)

    rows = vendor_client.get(VERSIONS, {"to": DAY_BEFORE.isoformat()}).json()["results"]

    assert [(r["version"], r["tasks"], r["cost_usd"]) for r in rows] == [(1, 0, "0.0000000000")]


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("get", POLICY, None),
        ("post", ROUTE, {"task_type": "review", "key": "k"}),
        ("get", VERSIONS, None),
    ],
)
def test_another_tenants_key_gets_404(stranger_client, learned, method, url, body):
    answer = getattr(stranger_client, method)(url, body, format="json")

    assert (answer.status_code, answer.json()["error"]["code"]) == (404, "not_found")


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
    assert "gpt-4o-mini 1.0000000000" in detail.content.decode()


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

    assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (401, "unauthenticated")
    assert anonymous["WWW-Authenticate"] == "Bearer"
    assert first.status_code == 200
    assert (throttled.status_code, throttled.json()["error"]["code"]) == (429, "throttled")
    assert throttled["Retry-After"] == "30"
