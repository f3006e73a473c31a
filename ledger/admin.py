"""Calls, outcomes and their events in the Django admin, strictly read-only:
the ledger is append-only (DESIGN.md "Outcome": nothing is edited in place;
a database trigger refuses UPDATE and DELETE anyway). Corrections go through
the API (disputes, decisions) as new rows.

These tables are the large ones: no full COUNT(*) on every page
(show_full_result_count), related rows joined not fetched one by one, and an
exact external_id search that can use an index instead of a LIKE scan.
"""

from django.contrib import admin

from core.admin import ReadOnlyAdminMixin
from ledger.models import Call, JournalEntry, JournalPosting, Outcome, OutcomeEvent


class LedgerAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_filter = ["contract"]
    search_fields = ["=external_id"]
    date_hierarchy = "occurred_at"
    show_full_result_count = False
    # The content hash is for idempotency, not for people.
    exclude = ["fingerprint"]


@admin.register(Call)
class CallAdmin(LedgerAdmin):
    list_display = [
        "external_id",
        "contract",
        "occurred_at",
        "llm_model",
        "task_type",
        "input_tokens",
        "output_tokens",
        "reported_cost_usd",
        "computed_cost_usd",
        "cost_usd",
        "charge",
    ]
    list_select_related = ["contract", "llm_model"]


class OutcomeEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OutcomeEvent
    fk_name = "outcome"
    fields = ["seq", "from_status", "to_status", "actor", "reason", "created_at"]
    readonly_fields = fields
    extra = 0


@admin.register(Outcome)
class OutcomeAdmin(LedgerAdmin):
    list_display = [
        "external_id",
        "contract",
        "occurred_at",
        "kind",
        "task_type",
        "quantity",
        "unit_value",
        "value",
        "unit_fee",
        "fee",
        "source",
    ]
    list_select_related = ["contract"]
    inlines = [OutcomeEventInline]


@admin.register(OutcomeEvent)
class OutcomeEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["outcome", "seq", "from_status", "to_status", "actor", "created_at"]
    list_filter = ["contract", "to_status"]
    search_fields = ["=outcome__external_id"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    list_select_related = ["outcome"]


class JournalPostingInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = JournalPosting
    fields = ["account", "amount"]
    readonly_fields = fields
    extra = 0


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The journal (DESIGN.md "Cost drift, repricing and the journal, for
    people"): append-only, so read-only here; docs/SETTLEMENT.md "Journal"
    names the accounts. Amounts: debit positive, credit negative."""

    list_display = ["contract", "statement_number", "currency", "memo", "created_at"]
    list_filter = ["contract", "currency"]
    search_fields = ["contract__code", "memo"]
    date_hierarchy = "created_at"
    list_select_related = ["contract"]
    inlines = [JournalPostingInline]


@admin.register(JournalPosting)
class JournalPostingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["entry", "contract", "account", "amount"]
    list_filter = ["contract", "account"]
    search_fields = ["contract__code"]
    show_full_result_count = False
    list_select_related = ["entry", "contract"]
