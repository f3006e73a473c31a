"""manage.py apikey_create and apikey_revoke (API.md "Operations")."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from billing.models import ApiKey, Organization
from tests.conftest import client_for
from tests.helpers import assert_error


def apikey_create(**options) -> str:
    out = StringIO()
    call_command("apikey_create", stdout=out, stderr=StringIO(), **options)
    return out.getvalue().strip()


def test_created_key_is_printed_once_and_authenticates(contract):
    secret = apikey_create(org="acme", role="customer")

    response = client_for(secret).get("/api/v1/contracts")

    assert response.status_code == 200, response.content
    assert [c["code"] for c in response.json()["results"]] == ["acme-agent"]


def test_created_key_is_stored_hashed(contract):
    secret = apikey_create(org="agentco", role="vendor", name="ci runner")
    prefix, _, body = secret.partition(".")

    key = ApiKey.objects.get(prefix=prefix)
    assert (key.organization.slug, key.role, key.name, key.revoked) == (
        "agentco",
        "vendor",
        "ci runner",
        False,
    )
    assert body not in f"{key.id}{key.hashed_key}{key.name}"
    assert key.hashed_key.startswith("sha512$$")


def test_create_org_makes_the_organization_first(db):
    secret = apikey_create(org="newco", role="admin", create_org=True)

    assert Organization.objects.get(slug="newco").name == "newco"
    assert client_for(secret).get("/api/v1/organizations").status_code == 200


def test_an_unknown_organization_without_create_org_is_an_error(db):
    with pytest.raises(CommandError) as error:
        apikey_create(org="nobody", role="vendor")

    assert error.value.returncode == 1
    assert str(error.value) == "no organization 'nobody' (pass --create-org to create it)"
    assert not Organization.objects.filter(slug="nobody").exists()


def test_a_bad_role_is_an_error_and_creates_nothing(contract):
    with pytest.raises(CommandError) as error:
        apikey_create(org="acme", role="owner")

    assert error.value.returncode == 1
    assert str(error.value) == "'owner' is not a role (vendor, customer, admin)"
    assert not ApiKey.objects.exists()


def test_a_bad_role_with_create_org_leaves_no_organization_behind(db):
    with pytest.raises(CommandError):
        apikey_create(org="newco", role="owner", create_org=True)

    assert not Organization.objects.filter(slug="newco").exists()


def test_a_revoked_key_is_unauthenticated(contract):
    secret = apikey_create(org="acme", role="customer")
    out = StringIO()

    call_command("apikey_revoke", secret.partition(".")[0], stdout=out)
    response = client_for(secret).get("/api/v1/contracts")

    assert out.getvalue() == f"Revoked customer key {secret.partition('.')[0]} of 'acme'.\n"
    assert_error(response, 401, "unauthenticated")


def test_revoking_an_unknown_prefix_is_an_error(db):
    with pytest.raises(CommandError) as error:
        call_command("apikey_revoke", "nope1234")

    assert error.value.returncode == 1
    assert str(error.value) == "no API key with prefix 'nope1234'"
