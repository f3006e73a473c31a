"""Spend alerts and nightly failures in the Django admin (DESIGN.md "Spend
limits and alerts": shown in the admin; "Trust between the parties": a
contract the nightly chain could not do is reported). Read-only: alerts are
appended by metering and marked delivered by the delivery task, failures by
the nightly steps; neither is edited by hand."""

from django.contrib import admin

from billing.models import NightlyFailure, SpendAlert, WebhookEvent
from core.admin import ReadOnlyAdminMixin, money_column


@admin.register(SpendAlert)
class SpendAlertAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "contract",
        "window",
        "window_start",
        "threshold_percent",
        "limit_shown",
        "charges_shown",
        "created_at",
        "delivered_at",
        "attempts",
        "last_error",
    ]
    list_filter = ["window", "threshold_percent", "contract"]
    list_select_related = ["contract"]
    search_fields = ["contract__code"]
    date_hierarchy = "created_at"

    limit_shown = money_column("limit_amount", "limit", currency="contract.currency")
    charges_shown = money_column("charges", "charges", currency="contract.currency")


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Statements issued and disputes opened, as sent to the contract's
    webhook (docs/ALERTS.md "Other events"): read-only, like the alerts."""

    list_display = ["contract", "event", "created_at", "delivered_at", "attempts", "last_error"]
    list_filter = ["event", "contract"]
    list_select_related = ["contract"]
    search_fields = ["contract__code"]


@admin.register(NightlyFailure)
class NightlyFailureAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "step", "contract", "as_of", "error"]
    list_filter = ["step", "contract"]
    list_select_related = ["contract"]
    search_fields = ["contract__code", "error"]
    date_hierarchy = "created_at"
