"""Spend alerts in the Django admin (DESIGN.md "Spend limits and alerts":
shown in the admin). Read-only: alerts are appended by metering and marked
delivered by the delivery task, never edited by hand."""

from django.contrib import admin

from billing.models import SpendAlert
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
