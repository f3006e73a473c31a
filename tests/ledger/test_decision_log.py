"""ledger/decision_log.py and ledger/route_ids.py: route decisions stored at
once or through a spool (docs/ROUTING.md "How a decision is stored"), with
real processes killed with SIGKILL, and route ids that prove their
contract."""

import json
import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from hypothesis import given
from hypothesis import strategies as st

from ledger import decision_log
from ledger.decision_log import DecisionRow, DecisionSpool, decisions_store, spool_drain
from ledger.models import RouteDecision
from ledger.route_ids import route_id_new, route_id_verifies
from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parents[2]


def row(contract_id: int, route_id: str, model_id: int, **changes) -> DecisionRow:
    fields = {
        "contract_id": contract_id,
        "route_id": route_id,
        "decided_at": datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=UTC),
        "task_type": "review",
        "key": "PR-1",
        "features": b"\x00" * 8 + b"\x01" * 8,
        "policy_version": 3,
        "llm_model_id": model_id,
        "probability": Decimal("0.9150000000"),
        "explored": False,
    }
    return DecisionRow(**(fields | changes))


# A stored decision's columns but its contract's.
STORED = DecisionRow.__struct_fields__[1:]


def stored(contract_id: int) -> list[tuple]:
    rows = RouteDecision.objects.filter(contract_id=contract_id).order_by("route_id")
    return [
        tuple(bytes(v) if isinstance(v, memoryview) else v for v in values)
        for values in rows.values_list(*STORED)
    ]


def as_stored(r: DecisionRow) -> tuple:
    return tuple(getattr(r, field) for field in STORED)


@pytest.fixture
def ids(contract):
    from routing.models import LlmModel

    return contract.id, LlmModel.objects.get(name="gpt-4o-mini").id


def test_stored_rows_are_the_rows_and_storing_them_again_adds_nothing(ids):
    contract_id, model_id = ids
    rows = [
        row(contract_id, f"r-{i}", model_id, key=f"k-{i}", features=None if i % 2 else b"\x07" * 8)
        for i in range(5)
    ]

    first = decisions_store(rows)
    again = decisions_store([*rows, row(contract_id, "r-new", model_id)])
    one_again = decisions_store([rows[0]])

    assert (first, again, one_again) == (5, 1, 0)
    assert stored(contract_id) == [
        as_stored(r)
        for r in sorted([*rows, row(contract_id, "r-new", model_id)], key=lambda r: r.route_id)
    ]


def test_a_spool_file_is_stored_once_let_go_and_never_while_held(ids, tmp_path, settings):
    contract_id, model_id = ids
    settings.ROUTE_DECISION_SPOOL_DIR = str(tmp_path)
    spool = DecisionSpool(tmp_path, interval=3600)
    rows = [row(contract_id, f"r-{i}", model_id, key=f"k-{i}") for i in range(50)]
    for r in rows[:30]:
        spool.append(r)

    held = spool_drain()
    spool.rotate()
    first = spool_drain()
    for r in rows[30:]:
        spool.append(r)
    spool.close()
    second = spool_drain()

    assert (held, first, second) == (0, 30, 20)
    assert sorted(r[0] for r in stored(contract_id)) == sorted(r.route_id for r in rows)
    assert list(tmp_path.iterdir()) == []


def test_a_spool_with_nothing_written_leaves_no_file(tmp_path):
    spool = DecisionSpool(tmp_path, interval=3600)
    spool._start()
    spool.rotate()

    spool.close()

    assert list(tmp_path.iterdir()) == []


@pytest.mark.django_db(transaction=True)
def test_the_spool_thread_lets_its_file_go_within_its_interval(ids, tmp_path, settings):
    contract_id, model_id = ids
    settings.ROUTE_DECISION_SPOOL_DIR = str(tmp_path)
    spool = DecisionSpool(tmp_path, interval=0.05)
    drained = []
    try:
        for i in range(20):
            spool.append(row(contract_id, f"r-{i}", model_id))

        wait_until(lambda: drained.append(spool_drain()) or sum(drained) == 20, within_s=10)
    finally:
        spool.close()

    assert len(stored(contract_id)) == 20


CHILD = textwrap.dedent(
    """
    import json, sys
    from datetime import UTC, datetime
    from decimal import Decimal
    from ledger.decision_log import DecisionRow, DecisionSpool

    directory, contract_id, model_id, count = sys.argv[1:5]
    spool = DecisionSpool(directory, interval=3600)
    for i in range(int(count)):
        spool.append(DecisionRow(
            int(contract_id), f"killed-{i}", datetime.now(UTC), "review", f"k-{i}",
            None, 1, int(model_id), Decimal("0.5"), False,
        ))
    print(json.dumps(sorted(str(p) for p in spool.directory.glob("*.jsonl"))), flush=True)
    sys.stdin.read()  # held until killed
    """
)


def test_the_decisions_of_a_process_killed_with_sigkill_are_stored_by_the_next_drain(
    ids, tmp_path, settings
):
    contract_id, model_id = ids
    settings.ROUTE_DECISION_SPOOL_DIR = str(tmp_path)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path), str(contract_id), str(model_id), "300"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        files = json.loads(child.stdout.readline())
        while_alive = spool_drain()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()

    after_kill = spool_drain()

    assert child.returncode == -signal.SIGKILL
    assert len(files) == 1
    assert while_alive == 0  # its writer held it
    assert after_kill == 300
    assert sorted(r[0] for r in stored(contract_id)) == sorted(f"killed-{i}" for i in range(300))
    assert list(tmp_path.iterdir()) == []
    assert spool_drain() == 0


def test_a_line_that_does_not_decode_is_kept_aside_and_the_good_lines_stored(
    ids, tmp_path, settings
):
    contract_id, model_id = ids
    settings.ROUTE_DECISION_SPOOL_DIR = str(tmp_path)
    good = row(contract_id, "r-good", model_id)
    path = tmp_path / "decisions-1-dead.jsonl"
    path.write_bytes(decision_log._encoder.encode(good) + b"\n" + b'[1, "r-cut", "2026-')

    drained = spool_drain()

    assert drained == 1
    assert [r[0] for r in stored(contract_id)] == ["r-good"]
    assert [p.name for p in tmp_path.iterdir()] == ["decisions-1-dead.bad"]
    assert (tmp_path / "decisions-1-dead.bad").read_bytes() == b'[1, "r-cut", "2026-\n'


def test_a_row_the_database_refuses_is_kept_aside_and_the_others_of_its_file_stored(
    ids, tmp_path, settings
):
    contract_id, model_id = ids
    settings.ROUTE_DECISION_SPOOL_DIR = str(tmp_path)
    refused = row(contract_id, "r-refused", model_id, key="a\x00b")
    spool = DecisionSpool(tmp_path, interval=3600)
    for r in (row(contract_id, "r-1", model_id), refused, row(contract_id, "r-2", model_id)):
        spool.append(r)
    spool.close()

    drained = spool_drain()

    assert drained == 2
    assert [r[0] for r in stored(contract_id)] == ["r-1", "r-2"]
    [kept] = tmp_path.iterdir()
    assert kept.suffix == ".bad"
    assert kept.read_bytes() == decision_log._encoder.encode(refused) + b"\n"


def test_a_file_being_created_is_never_taken_for_an_orphan(ids, tmp_path, settings):
    contract_id, model_id = ids
    settings.ROUTE_DECISION_SPOOL_DIR = str(tmp_path)
    (tmp_path / "decisions-1-making.new").write_bytes(
        decision_log._encoder.encode(row(contract_id, "r-1", model_id)) + b"\n"
    )

    assert spool_drain() == 0
    assert [p.name for p in tmp_path.iterdir()] == ["decisions-1-making.new"]


@given(contract_id=st.integers(1, 2**62), other=st.integers(1, 2**62), at=st.integers(0, 31))
def test_a_route_id_verifies_for_its_contract_only_and_not_once_altered(contract_id, other, at):
    route_id = route_id_new(contract_id)
    flipped = route_id[:at] + ("A" if route_id[at] != "A" else "B") + route_id[at + 1 :]

    assert len(route_id) == 32
    assert route_id_verifies(contract_id, route_id)
    assert route_id_verifies(other, route_id) == (other == contract_id)
    assert not route_id_verifies(contract_id, flipped)
    assert not route_id_verifies(contract_id, route_id[:-1])
    assert not route_id_verifies(contract_id, "é" * 32)


def test_a_route_id_minted_under_another_secret_key_does_not_verify(settings):
    route_id = route_id_new(7)
    settings.SECRET_KEY = settings.SECRET_KEY + "-rotated"

    assert not route_id_verifies(7, route_id)


def test_a_process_without_a_spool_directory_writes_nothing_to_disk(ids, tmp_path):
    contract_id, model_id = ids
    assert settings.ROUTE_DECISION_SPOOL_DIR == ""

    decision_log.decision_record(row(contract_id, "r-now", model_id))

    assert [r[0] for r in stored(contract_id)] == ["r-now"]
    assert os.listdir(tmp_path) == []
