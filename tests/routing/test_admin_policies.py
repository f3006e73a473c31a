"""Routing policy versions in the admin: titled by their contract's code,
with the inputs behind each task type's weights shown."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User

from routing.models import PolicyVersion

INPUTS = {"rule": "cold_start", "tasks": 0, "window_days": 28}


@pytest.fixture
def staff(client, db):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


@pytest.fixture
def policy(contract):
    return PolicyVersion.objects.create(
        contract=contract,
        version=1,
        as_of=datetime(2026, 11, 8, tzinfo=UTC),
        window_start=datetime(2026, 10, 11, tzinfo=UTC),
        window_end=datetime(2026, 11, 8, tzinfo=UTC),
        parameters={"window_days": 28},
        task_types={"code_review": {"weights": {"gpt-4o-mini": "1"}, "inputs": INPUTS}},
        default={"weights": {"gpt-4o-mini": "1"}, "inputs": {"rule": "equal"}},
    )


def test_a_policy_version_is_titled_by_its_contract_code(staff, policy):
    listed = staff.get("/admin/routing/policyversion/").content.decode()
    page = staff.get(f"/admin/routing/policyversion/{policy.pk}/change/").content.decode()

    assert "acme-agent v1 (as of 2026-11-08 00:00)" in listed
    assert "<h2>acme-agent v1 (as of 2026-11-08 00:00)</h2>" in page


def test_a_policy_version_shows_the_inputs_of_each_task_type(staff, policy):
    page = staff.get(f"/admin/routing/policyversion/{policy.pk}/change/").content.decode()

    assert "<b>code_review</b><pre>{\n  &quot;rule&quot;: &quot;cold_start&quot;," in page
    assert "&quot;window_days&quot;: 28\n}</pre>" in page
    assert "<b>(any other)</b><pre>{\n  &quot;rule&quot;: &quot;equal&quot;\n}</pre>" in page
