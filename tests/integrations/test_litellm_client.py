"""The LiteLLM plug-in (outcome_ledger_client) against the live server:
real litellm completions (``mock_response=``, no provider is called) become
calls with the right token buckets and costs, and records survive an
unreachable ledger in the spool, delivered once it is back, never twice."""

import asyncio
import os
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
import uuid
from decimal import Decimal
from types import SimpleNamespace

# litellm reads this when imported: use its bundled price map, never fetch it.
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

import litellm
import numpy as np
import pytest
from litellm.llms.anthropic.chat.transformation import AnthropicConfig
from litellm.llms.vertex_ai.gemini.vertex_and_google_ai_studio_gemini import (
    VertexGeminiConfig,
)
from litellm.types.utils import ModelResponse, Usage

from ledger.models import Call, RouteDecision
from outcome_ledger_client import (
    LedgerRouter,
    LedgerSender,
    OutcomeLedgerLogger,
    Route,
    TokenBuckets,
    request_features,
    token_buckets,
)
from tests.factories import (
    CallRecordFactory,
    LlmModelFactory,
    PriceFactory,
    api_key_create,
    sonnet_priced,
)
from tests.helpers import wait_until

OPENAI_USAGE = {
    "prompt_tokens": 1200,
    "completion_tokens": 300,
    "total_tokens": 1500,
    "prompt_tokens_details": {"cached_tokens": 1000},
    "completion_tokens_details": {"reasoning_tokens": 100},
}
# Anthropic's input_tokens excludes both cache buckets; 300 of the 500
# written are one-hour writes.
ANTHROPIC_USAGE = {
    "input_tokens": 200,
    "cache_read_input_tokens": 1000,
    "cache_creation_input_tokens": 500,
    "cache_creation": {"ephemeral_5m_input_tokens": 200, "ephemeral_1h_input_tokens": 300},
    "output_tokens": 400,
}
GEMINI_USAGE_METADATA = {
    "promptTokenCount": 1200,
    "cachedContentTokenCount": 1000,
    "candidatesTokenCount": 300,
    "thoughtsTokenCount": 100,
    "totalTokenCount": 1600,
}


def litellm_usage_of_openai() -> Usage:
    return Usage(**OPENAI_USAGE)


def litellm_usage_of_anthropic() -> Usage:
    return AnthropicConfig().calculate_usage(usage_object=ANTHROPIC_USAGE, reasoning_content=None)


def litellm_usage_of_gemini() -> Usage:
    return VertexGeminiConfig.calculate_usage({"usageMetadata": GEMINI_USAGE_METADATA})


@pytest.mark.parametrize(
    ("raw", "litellm_usage", "buckets"),
    [
        (OPENAI_USAGE, litellm_usage_of_openai, TokenBuckets(1200, 300, 1000, 0, 0, 100)),
        (ANTHROPIC_USAGE, litellm_usage_of_anthropic, TokenBuckets(1700, 400, 1000, 500, 300, 0)),
        (GEMINI_USAGE_METADATA, litellm_usage_of_gemini, TokenBuckets(1200, 400, 1000, 0, 0, 100)),
    ],
    ids=["openai", "anthropic", "gemini"],
)
def test_raw_provider_usage_and_litellms_usage_give_the_same_buckets(raw, litellm_usage, buckets):
    assert (token_buckets(raw), token_buckets(litellm_usage())) == (buckets, buckets)


def test_no_usage_gives_empty_buckets():
    assert token_buckets(None) == TokenBuckets()


def mocked(model: str, usage: Usage) -> ModelResponse:
    return ModelResponse(
        model=model, choices=[{"message": {"role": "assistant", "content": "ok"}}], usage=usage
    )


MESSAGES = [{"role": "user", "content": "Review PR-812"}]


@pytest.fixture
def priced_models(light_model):
    sonnet = sonnet_priced()
    flash = LlmModelFactory(name="gemini-2.5-flash", provider="google", tier="light")
    PriceFactory(
        llm_model=flash, input=Decimal("0.30"), output=Decimal("2.50"), cache_read=Decimal("0.075")
    )
    return SimpleNamespace(light=light_model, sonnet=sonnet, flash=flash)


@pytest.fixture
def vendor_secret(contract):
    return api_key_create(organization=contract.vendor, role="vendor")


def sender_for(base_url: str, secret: str, spool_dir, **options) -> LedgerSender:
    return LedgerSender(
        base_url=base_url,
        api_key=secret,
        contract="acme-agent",
        spool_dir=spool_dir,
        max_attempts=2,
        backoff_s=0.01,
        **options,
    )


CALLBACK_LISTS = (
    "success_callback",
    "failure_callback",
    "_async_success_callback",
    "_async_failure_callback",
)


@pytest.fixture
def ledger_logger(live_server, vendor_secret, tmp_path, monkeypatch):
    """The logger as LiteLLM's only callback; its sender posts each call as
    it comes. LiteLLM runs success callbacks in its own threads and tasks
    after the completion has returned: a test waits for the calls."""
    sender = sender_for(
        live_server.url, vendor_secret, tmp_path / "spool", batch_size=1, flush_interval_s=60
    )
    logger = OutcomeLedgerLogger(sender, default_task_type="chat")
    # LiteLLM copies litellm.callbacks into these lists once and keeps one
    # logger per class and settings: start each test from none.
    for name in CALLBACK_LISTS:
        monkeypatch.setattr(litellm, name, [])
    monkeypatch.setattr(litellm, "callbacks", [logger])
    yield logger
    sender.close()


@pytest.mark.django_db(transaction=True)
def test_sync_async_and_streamed_completions_arrive_with_their_tokens_and_costs(
    priced_models, ledger_logger
):
    metadata = {"task_type": "code_review", "task_ref": "PR-812"}
    litellm.completion(
        model="gpt-4o-mini",
        messages=MESSAGES,
        mock_response=mocked("gpt-4o-mini", litellm_usage_of_openai()),
        metadata=metadata,
    )

    async def anthropic_then_streamed_gemini():
        await litellm.acompletion(
            model="anthropic/claude-sonnet-4-5",
            messages=MESSAGES,
            mock_response=mocked("claude-sonnet-4-5", litellm_usage_of_anthropic()),
            metadata=metadata,
        )
        stream = await litellm.acompletion(
            model="gemini/gemini-2.5-flash",
            messages=MESSAGES,
            mock_response=mocked("gemini-2.5-flash", litellm_usage_of_gemini()),
            stream=True,
            metadata=metadata,
        )
        async for _ in stream:
            pass
        # The success hooks run as tasks of this loop: it keeps running them
        # while another thread waits for the three calls to be delivered.
        await asyncio.to_thread(wait_until, lambda: ledger_logger.sender.totals.accepted == 3)

    asyncio.run(anthropic_then_streamed_gemini())

    calls = {call.llm_model.name: call for call in Call.objects.select_related("llm_model")}
    buckets = {
        name: (
            c.input_tokens,
            c.output_tokens,
            c.cache_read_tokens,
            c.cache_write_tokens,
            c.cache_write_1h_tokens,
            c.reasoning_tokens,
        )
        for name, c in calls.items()
    }
    assert buckets == {
        "gpt-4o-mini": (1200, 300, 1000, 0, 0, 100),
        "claude-sonnet-4-5": (1700, 400, 1000, 500, 300, 0),
        "gemini-2.5-flash": (1200, 400, 1000, 0, 0, 100),
    }
    assert {name: c.cost_usd for name, c in calls.items()} == {
        # (200 x 0.15 + 1000 x 0.075 + 300 x 0.60) / 1e6
        "gpt-4o-mini": Decimal("0.0002850000"),
        # (200 x 3 + 1000 x 0.30 + 200 x 3.75 + 300 x 6 + 400 x 15) / 1e6
        "claude-sonnet-4-5": Decimal("0.0094500000"),
        # (200 x 0.30 + 1000 x 0.075 + 400 x 2.50) / 1e6
        "gemini-2.5-flash": Decimal("0.0011350000"),
    }
    assert {(c.task_type, c.task_ref, c.success, c.reported_cost_usd) for c in calls.values()} == {
        ("code_review", "PR-812", True, None)
    }
    assert {c.metadata["provider"] for c in calls.values()} == {"openai", "anthropic", "gemini"}
    assert ledger_logger.sender.totals.accepted == 3


@pytest.mark.django_db(transaction=True)
def test_failed_completion_is_recorded_unsuccessful_with_no_tokens(light_model, ledger_logger):
    with pytest.raises(litellm.InternalServerError):
        litellm.completion(
            model="gpt-4o-mini", messages=MESSAGES, mock_response=Exception("provider down")
        )
    wait_until(lambda: Call.objects.count() == 1)

    call = Call.objects.get()
    assert (call.success, call.input_tokens, call.output_tokens) == (False, 0, 0)
    assert call.cost_usd == Decimal("0E-10")
    assert call.task_type == "chat"
    assert call.metadata["error_type"] == "InternalServerError"


class RelayServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


class Outage:
    """An address where the ledger is down until ``restore()``, then up:
    a port that refuses connections, later a TCP relay to the live server."""

    def __init__(self, live_server):
        self.target = (live_server.thread.host, live_server.thread.port)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.relay = None

    def restore(self) -> None:
        target = self.target

        class Relay(socketserver.BaseRequestHandler):
            def handle(self):
                with socket.create_connection(target) as upstream:
                    back = threading.Thread(target=_pipe, args=(upstream, self.request))
                    back.start()
                    _pipe(self.request, upstream)
                    back.join()

        self.relay = RelayServer(("127.0.0.1", self.port), Relay)
        threading.Thread(target=self.relay.serve_forever, daemon=True).start()

    def close(self) -> None:
        if self.relay is not None:
            self.relay.shutdown()
            self.relay.server_close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    while data := source.recv(65536):
        sink.sendall(data)
    sink.shutdown(socket.SHUT_WR)


@pytest.fixture
def outage(live_server):
    outage = Outage(live_server)
    yield outage
    outage.close()


@pytest.mark.django_db(transaction=True)
def test_records_spooled_while_the_ledger_is_down_are_delivered_once_it_is_back(
    contract, vendor_secret, outage, tmp_path
):
    sender = sender_for(outage.url, vendor_secret, tmp_path / "spool", batch_size=2, start=False)
    for _ in range(5):
        sender.add(CallRecordFactory())
    sender.flush()

    assert len(sender.spooled_files()) == 3  # batches of 2, 2 and 1
    assert Call.objects.count() == 0

    outage.restore()
    sender.add(CallRecordFactory())
    sender.flush()

    assert Call.objects.count() == 6
    assert (sender.totals.accepted, sender.totals.duplicates, sender.totals.rejected) == (6, 0, [])
    assert sender.spooled_files() == []


@pytest.mark.django_db(transaction=True)
def test_a_spooled_batch_re_sent_after_delivery_is_counted_once(
    contract, vendor_secret, outage, tmp_path
):
    down = sender_for(outage.url, vendor_secret, tmp_path / "spool", start=False)
    down.add(CallRecordFactory())
    down.add(CallRecordFactory())
    down.flush()
    (spooled,) = down.spooled_files()
    # A crash between the ledger's 200 and the file's deletion leaves the
    # file behind: keep a copy to put back.
    shutil.copy(spooled, tmp_path / "copy")
    outage.restore()
    down.flush()
    shutil.copy(tmp_path / "copy", spooled)

    restarted = sender_for(outage.url, vendor_secret, tmp_path / "spool")  # re-sends at start
    wait_until(lambda: restarted.spooled_files() == [])
    restarted.close()

    assert Call.objects.count() == 2
    assert (down.totals.accepted, restarted.totals.accepted) == (2, 0)
    assert restarted.totals.duplicates == 2


@pytest.mark.django_db(transaction=True)
def test_records_added_from_many_threads_are_each_delivered_once(
    contract, vendor_secret, live_server, tmp_path
):
    sender = sender_for(
        live_server.url, vendor_secret, tmp_path / "spool", batch_size=7, flush_interval_s=0.2
    )

    def add_fifty():
        for _ in range(50):
            sender.add(CallRecordFactory())

    threads = [threading.Thread(target=add_fifty) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 400 = 57 full batches and one record, which the timer flushes.
    wait_until(lambda: Call.objects.count() == 400)
    sender.close()

    assert (sender.totals.accepted, sender.totals.duplicates, sender.totals.rejected) == (
        400,
        0,
        [],
    )


def test_the_client_imports_without_litellm_and_says_how_to_get_the_logger():
    blocked = (
        "import sys; sys.modules['litellm'] = None; import outcome_ledger_client as c; "
        "c.LedgerSender, c.LedgerRouter; c.OutcomeLedgerLogger"
    )
    result = subprocess.run(
        [sys.executable, "-c", blocked], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert "pip install 'outcome-ledger-client[litellm]'" in result.stderr


def router_for(base_url: str, secret: str, **options) -> LedgerRouter:
    return LedgerRouter(base_url=base_url, api_key=secret, contract="acme-agent", **options)


@pytest.mark.django_db(transaction=True)
def test_a_routed_completion_is_recorded_with_the_decision_that_chose_its_model(
    priced_models, contract, vendor_secret, ledger_logger, live_server
):
    contract.routing_models.set([priced_models.sonnet])
    router = router_for(live_server.url, vendor_secret)

    route = router.route(task_type="code_review", key="PR-812", text="Why does this fail?")
    litellm.completion(
        model=route.model,
        messages=MESSAGES,
        mock_response=mocked(route.model, litellm_usage_of_openai()),
        metadata={"task_type": "code_review", "task_ref": "PR-812", **route.metadata},
    )
    wait_until(lambda: Call.objects.count() == 1)

    call = Call.objects.get()
    decision = RouteDecision.objects.get()
    assert (route.model, route.policy_version, route.probability, route.explored) == (
        "claude-sonnet-4-5",
        1,
        "1.0000000000",
        False,
    )
    assert (call.route_id, call.policy_version) == (decision.route_id, 1) == (route.route_id, 1)
    # The features of the text travel; the text does not.
    assert np.frombuffer(bytes(decision.features), dtype="<f8").tolist() == request_features(
        "Why does this fail?"
    )


@pytest.mark.django_db(transaction=True)
def test_a_completion_of_a_routed_task_ref_names_its_decision_by_itself(
    priced_models, contract, vendor_secret, ledger_logger, live_server
):
    contract.routing_models.set([priced_models.flash])
    route = router_for(live_server.url, vendor_secret).route(task_type="code_review", key="PR-9")
    litellm.completion(
        model="gemini/gemini-2.5-flash",
        messages=MESSAGES,
        mock_response=mocked("gemini-2.5-flash", litellm_usage_of_gemini()),
        metadata={"task_type": "code_review", "task_ref": "PR-9"},
    )
    wait_until(lambda: Call.objects.count() == 1)

    call = Call.objects.get()
    assert (call.route_id, call.policy_version) == (route.route_id, route.policy_version)
    assert call.route_id == RouteDecision.objects.get().route_id


@pytest.mark.django_db(transaction=True)
def test_the_router_routes_to_its_default_model_while_the_ledger_is_down(
    priced_models, contract, vendor_secret, outage
):
    contract.routing_models.set([priced_models.sonnet])
    router = router_for(outage.url, vendor_secret, default_model="gpt-4o-mini")
    while_down = router.route(task_type="code_review", key="PR-1")
    outage.restore()

    assert while_down == Route("gpt-4o-mini", None)
    assert router.route(task_type="code_review", key="PR-1").model == "claude-sonnet-4-5"


def test_the_router_without_a_default_model_refuses_to_guess(outage):
    router = router_for(outage.url, "no-key")
    with pytest.raises(LookupError, match="no default model"):
        router.route(task_type="code_review", key="PR-1")


@pytest.mark.django_db(transaction=True)
def test_a_record_that_cannot_be_json_is_refused_alone_and_the_batch_is_delivered(
    contract, vendor_secret, live_server, tmp_path
):
    sender = sender_for(live_server.url, vendor_secret, tmp_path / "spool", start=False)
    sender.add(CallRecordFactory(task_ref=uuid.uuid4()))  # written as its text
    sender.add(CallRecordFactory(metadata={"score": float("nan")}))  # JSON has no NaN
    sender.add(CallRecordFactory())
    sender.flush()

    assert Call.objects.count() == 2
    assert (sender.totals.accepted, sender.totals.unencodable) == (2, 1)


@pytest.mark.django_db(transaction=True)
def test_a_spooled_batch_refused_for_good_is_set_aside_and_the_rest_is_delivered(
    contract, vendor_secret, outage, tmp_path
):
    spool = tmp_path / "spool"
    sender = sender_for(outage.url, vendor_secret, spool, batch_size=1, start=False)
    sender.add(CallRecordFactory())
    sender.add(CallRecordFactory())
    sender.flush()
    first, _ = sender.spooled_files()
    first.write_bytes(b"not json\n")  # the ledger answers 400 to it, every time

    outage.restore()
    sender.flush()

    assert Call.objects.count() == 1
    assert sender.spooled_files() == []
    assert [p.suffix for p in spool.iterdir()] == [".refused"]
