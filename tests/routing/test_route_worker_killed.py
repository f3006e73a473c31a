"""A gunicorn worker killed with SIGKILL while it serves route requests
loses none of the decisions it answered (docs/ROUTING.md "How a decision is
stored"): its spool file is let go with its life and stored by the next
drain. Real gunicorn, real HTTP, a real kill; the server reads the test
database, so the test commits its data."""

import os
import signal

import pytest
import requests

from bench.common import Gunicorn
from ledger.decision_log import spool_drain
from ledger.models import RouteDecision
from tests.factories import api_key_create
from tests.helpers import shared_database_url, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_decisions_a_killed_worker_answered_are_all_stored(
    contract, light_model, settings, tmp_path
):
    contract.routing_models.set([light_model])
    secret = api_key_create(organization=contract.vendor, role="vendor")
    settings.ROUTE_DECISION_SPOOL_DIR = str(tmp_path)
    env = os.environ | {
        "DATABASE_URL": shared_database_url(),
        "DEBUG": "1",
        "ROUTE_DECISION_SPOOL_DIR": str(tmp_path),
        # The worker never hands its file over by itself: only its death does.
        "ROUTE_DECISION_SPOOL_SECONDS": "3600",
    }
    headers = {"Authorization": f"Bearer {secret}"}

    with Gunicorn(env=env, workers=1) as server:
        route = f"{server.url}/api/v1/contracts/{contract.code}/routing/route"

        def routed(key: str) -> str:
            answer = requests.post(route, json={"task_type": "review", "key": key}, headers=headers)
            assert answer.status_code == 200, answer.text
            return answer.json()["route_id"]

        answered = [routed(f"k-{i}") for i in range(40)]
        [worker] = server.pids()[1:]
        stored_by_the_web = RouteDecision.objects.count()
        os.kill(worker, signal.SIGKILL)
        wait_until(lambda: len(server.pids()) == 2 and worker not in server.pids())
        drained = spool_drain()
        answered.append(routed("after"))

    assert stored_by_the_web == 0
    assert drained == 40
    spool_drain()  # the new worker let its file go when it stopped
    assert sorted(RouteDecision.objects.values_list("route_id", flat=True)) == sorted(answered)
    assert list(tmp_path.iterdir()) == []
