"""API.md "Conventions": filters are query parameters, and a filter that
cannot mean what was asked answers 400 with what is allowed (core.api
ListQuery), never a silently unfiltered or empty 200."""

import pytest

from tests.factories import LlmModelFactory
from tests.helpers import assert_error

LISTS = [
    "/api/v1/contracts",
    "/api/v1/organizations",
    "/api/v1/contracts/acme-agent/calls",
    "/api/v1/contracts/acme-agent/outcomes",
    "/api/v1/contracts/acme-agent/statements",
    "/api/v1/contracts/acme-agent/alerts",
    "/api/v1/contracts/acme-agent/roi",
    "/api/v1/models",
    "/api/v1/models/gpt-4o-mini/prices",
]


@pytest.mark.parametrize("url", LISTS)
def test_every_list_refuses_a_parameter_it_does_not_take_and_names_those_it_does(
    admin_client, contract, url
):
    response = admin_client.get(url, {"statuss": "accepted"})

    error = assert_error(response, 400, "unknown_parameter")
    assert error["details"]["unknown"] == ["statuss"]
    assert error["message"].startswith("unknown query parameter 'statuss'; this list takes ")


def test_outcome_list_names_the_allowed_statuses_for_an_unknown_one(admin_client, contract):
    response = admin_client.get("/api/v1/contracts/acme-agent/outcomes?status=weird")

    error = assert_error(response, 400, "invalid")
    assert error["message"] == "'status' must be one of accepted, disputed, rejected, not 'weird'"
    assert error["details"] == {"status": ["accepted", "disputed", "rejected"]}


def test_an_empty_tier_is_refused_with_the_tiers(admin_client, contract):
    response = admin_client.get("/api/v1/models?tier=")

    error = assert_error(response, 400, "invalid")
    assert error["message"] == (
        "'tier' is empty; leave it out to list every value, "
        "or give one of frontier, mid, light, unknown"
    )
    assert error["details"] == {"tier": ["frontier", "mid", "light", "unknown"]}


def test_models_filter_by_tier_and_provider(admin_client, contract):
    LlmModelFactory(name="gpt-4o", provider="openai", tier="frontier")
    LlmModelFactory(name="claude-opus-4-1", provider="anthropic", tier="frontier")

    frontier = admin_client.get("/api/v1/models?tier=frontier").json()["results"]
    openai = admin_client.get("/api/v1/models?provider=openai").json()["results"]

    assert [m["name"] for m in frontier] == ["claude-opus-4-1", "gpt-4o"]
    assert [m["name"] for m in openai] == ["gpt-4o", "gpt-4o-mini"]


def test_a_filter_given_twice_is_refused(admin_client, contract):
    response = admin_client.get("/api/v1/contracts/acme-agent/calls?task_ref=a&task_ref=b")

    assert assert_error(response, 400, "invalid")["details"] == {"task_ref": "given more than once"}


def test_an_export_format_the_list_does_not_offer_is_refused(admin_client, contract):
    response = admin_client.get("/api/v1/contracts/acme-agent/statements?format=xlsx")

    error = assert_error(response, 400, "invalid")
    assert error["message"] == "'format' must be one of json, csv, not 'xlsx'"


def test_a_group_by_the_roi_does_not_know_is_refused_with_the_groupings(admin_client, contract):
    response = admin_client.get("/api/v1/contracts/acme-agent/roi?group_by=year")

    assert assert_error(response, 400, "invalid")["details"] == {
        "group_by": ["day", "week", "month", "model", "task_type", "tier"]
    }


def test_an_outcome_list_filtered_by_a_known_status_answers_200(admin_client, contract):
    response = admin_client.get("/api/v1/contracts/acme-agent/outcomes?status=disputed&limit=5")

    assert (response.status_code, response.json()) == (200, {"results": [], "next": None})


def test_a_stranger_gets_404_before_any_parameter_is_checked(customer_client, db):
    response = customer_client.get("/api/v1/contracts/other/calls?bogus=1")

    assert response.status_code == 404
