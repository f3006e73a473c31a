"""The admin of routing policy versions: read-only, and its change list
compares the versions shown by what the calls they routed achieved
(DESIGN.md "Routing feedback")."""

import json

from django.contrib import admin
from django.utils.html import format_html_join

from core.admin import ReadOnlyAdminMixin
from ledger.attribution import EARLIEST, LATEST
from routing.models import PolicyVersion
from routing.policy_selectors import NOTHING, realized_stats


@admin.register(PolicyVersion)
class PolicyVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "__str__",
        "contract",
        "version",
        "as_of",
        "realized_tasks",
        "realized_success_rate",
        "realized_cost_usd",
        "realized_value_per_dollar",
    ]
    list_filter = ["contract"]
    list_select_related = ["contract"]
    readonly_fields = ["weights_table", "inputs_table", "guard", "model"]
    exclude = ["task_types", "default"]

    def get_queryset(self, request):
        # Each version is titled by its contract's code.
        return super().get_queryset(request).select_related("contract")

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        change_list = getattr(response, "context_data", {}).get("cl")
        if change_list is not None:
            # One aggregate per contract on the page, not one per row.
            for contract_id in {p.contract_id for p in change_list.result_list}:
                realized = realized_stats(
                    contract_id=contract_id,
                    start=EARLIEST,
                    end=LATEST,
                    grouping="policy_version",
                )
                for policy in change_list.result_list:
                    if policy.contract_id == contract_id:
                        policy.realized = realized.get((policy.version,), NOTHING)
        return response

    @admin.display(description="tasks")
    def realized_tasks(self, policy):
        return policy.realized.tasks

    @admin.display(description="success rate")
    def realized_success_rate(self, policy):
        rate = policy.realized.success_rate
        return "-" if rate is None else f"{rate:.4f}"

    @admin.display(description="cost (USD)")
    def realized_cost_usd(self, policy):
        return f"{policy.realized.cost_usd:.2f}"

    @admin.display(description="value per dollar")
    def realized_value_per_dollar(self, policy):
        per_dollar = policy.realized.value_per_dollar
        return "-" if per_dollar is None else f"{per_dollar:.2f}"

    @admin.display(description="inputs")
    def inputs_table(self, policy):
        """What each task type's weights were computed from, as stored."""
        entries = [*sorted(policy.task_types.items()), ("(any other)", policy.default)]
        return format_html_join(
            "",
            "<div><b>{}</b><pre>{}</pre></div>",
            (
                (tt, json.dumps(entry.get("inputs", {}), indent=2, sort_keys=True))
                for tt, entry in entries
            ),
        )

    @admin.display(description="weights (a request without features)")
    def weights_table(self, policy):
        entries = [*sorted(policy.task_types.items()), ("(any other)", policy.default)]
        return format_html_join(
            "",
            "<div><b>{}</b>: {}</div>",
            (
                (tt, ", ".join(f"{m} {w}" for m, w in entry.get("weights", {}).items()))
                for tt, entry in entries
            ),
        )
