"""routing/management/commands/import_prices.py (API.md "Operations")."""

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from routing.models import LlmModel, Price
from tests.factories import LlmModelFactory, PriceFactory

pytestmark = pytest.mark.django_db


def _run(*args) -> str:
    out = StringIO()
    call_command("import_prices", *args, stdout=out)
    return out.getvalue()


def test_the_bundled_snapshot_is_added_then_unchanged():
    first = _run("--bundled")
    rows = Price.objects.count()
    assert first.startswith(f"added {rows}, unchanged 0, rejected 0; models created 29;")
    assert _run("--bundled").startswith(f"added 0, unchanged {rows}, rejected 0; models created 0;")


def test_rejected_rows_are_listed_with_reasons_and_exit_with_code_1(tmp_path):
    model = LlmModelFactory(name="gpt-4o", provider="openai", tier="frontier")
    PriceFactory(llm_model=model, input="2.50", output="10")
    path = tmp_path / "prices.csv"
    path.write_text(
        "model,effective_from,input,output\n"
        "gpt-4o,2020-01-01T00:00:00Z,3,10\n"
        "gpt-4o,2026-01-01T00:00:00Z,2,8\n"
    )
    out = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("import_prices", "--csv", str(path), stdout=out)
    assert raised.value.returncode == 1
    assert out.getvalue().startswith("added 1, unchanged 0, rejected 1;")
    assert "input 3 (stored 2.5000000000)" in out.getvalue()
    assert "line 2" in out.getvalue()


def test_a_litellm_file_is_imported_from_the_given_instant(tmp_path):
    path = tmp_path / "model_prices_and_context_window.json"
    path.write_text(
        '{"sample_spec": {}, "m": {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06,'
        ' "litellm_provider": "acme", "mode": "chat"}}'
    )
    out = _run("--litellm", str(path), "--effective-from", "2026-03-01T00:00:00+01:00")
    price = Price.objects.get(llm_model__name="m")
    assert out.startswith("added 1, unchanged 0, rejected 0; models created 1;")
    assert price.effective_from == datetime(2026, 2, 28, 23, tzinfo=UTC)
    assert (price.input, LlmModel.objects.get(name="m").tier) == (1, "unknown")
    assert price.source == "litellm:model_prices_and_context_window.json"
    assert "left untiered (tier unknown; set it in the admin" in out
    assert out.rstrip().endswith("1: m")


def test_models_get_the_tiers_the_operator_names_by_file_or_flag(tmp_path):
    path = tmp_path / "prices.json"
    entry = '"output_cost_per_token": 2e-06, "litellm_provider": "acme", "mode": "chat"'
    path.write_text(
        '{"m1": {"input_cost_per_token": 1e-06, ' + entry + "},"
        ' "m2": {"input_cost_per_token": 2e-05, ' + entry + "}}"
    )
    tiers = tmp_path / "tiers.csv"
    tiers.write_text("model,tier\nm2,frontier\n")

    out = _run("--litellm", str(path), "--tiers", str(tiers), "--tier", "light")

    assert dict(LlmModel.objects.values_list("name", "tier")) == {"m1": "light", "m2": "frontier"}
    assert "untiered" not in out


def test_an_unreadable_file_is_a_command_error():
    with pytest.raises(CommandError, match="cannot read"):
        call_command("import_prices", "--csv", "/nonexistent/prices.csv")
