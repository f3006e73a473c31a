"""The Django admin of organizations, API keys and contracts (DESIGN.md "Who
uses it": admins). docs/ADMIN.md says which contract terms stay editable."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from billing import services, webhooks
from billing.auth import verified_keys_forget
from billing.finance import DRIFT_GROUP_BYS, drift_report
from billing.models import (
    ApiKey,
    Contract,
    FeeScheduleRow,
    Organization,
    SpendLimit,
    ValueScheduleRow,
)
from core.admin import money_column

# The library registers its own key model; this project's keys are ApiKey.
admin.site.unregister(APIKey)

# Terms that issued statements rest on: fixed once the contract exists.
CONTRACT_TERMS = (
    "code",
    "vendor",
    "customer",
    "currency",
    "fx_rate",
    "timezone",
    "period",
    "starts_on",
    "markup",
    "fixed_fee",
    "hourly_rate",
    "guarantee_multiple",
    "payout_share",
    "payout_cap",
    "grace_days",
    "min_sample",
    "baseline_model",
)
# The terms contract_create takes by name rather than as rows.
BY_NAME = ("vendor", "customer", "baseline_model")


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name"]
    readonly_fields = ["created_at"]


@admin.register(ApiKey)
class ApiKeyAdmin(APIKeyModelAdmin):
    """Creating a key shows its secret once (the library's save_model); keys
    are revoked, never deleted, so events that name a key prefix stay
    traceable."""

    list_display = ["prefix", "name", "organization", "role", "created", "revoked"]
    list_filter = ["role", "revoked", "organization"]
    list_select_related = ["organization"]
    search_fields = ["prefix", "name", "organization__slug"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return fields if obj is None else (*fields, "organization", "role")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # A revoked box or a new expiry date applies at once in this process.
        verified_keys_forget()

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        for key in queryset:
            services.apikey_revoke(key=key)
        self.message_user(request, f"Revoked {len(queryset)} key(s).", messages.SUCCESS)


class ContractAdminForm(forms.ModelForm):
    """The admin builds the fields; the service's rules check them."""

    def clean(self):
        """billing.services.contract_check: the terms of a new contract
        as given here, or a stored one's fixed terms (read-only, absent from
        the form) with the ends_on and routing terms given here."""
        data = super().clean()
        if self.errors:
            return data
        terms = (
            self.instance
            if self.instance.pk is not None
            else Contract(**{name: data[name] for name in CONTRACT_TERMS})
        )
        problems = services.contract_check(
            contract=terms, ends_on=data["ends_on"], routing=_routing(data)
        )
        if problems:
            # Wire names ("routing.epsilon") are the form's "routing_epsilon".
            raise ValidationError({p.field.replace(".", "_"): p.message for p in problems})
        return data


def _routing(data: dict) -> services.RoutingTerms:
    return services.RoutingTerms(
        **{name: data[f"routing_{name}"] for name in services.DEFAULT_ROUTING}
    )


# Each inline's prefix is the service's argument it fills, and the row's
# fields are the keys of that argument's rows.
SCHEDULES = {
    "value_schedule": services.ValueRow,
    "fee_schedule": services.FeeRow,
    "spend_limits": services.SpendLimitRow,
}


class ScheduleFormSet(BaseInlineFormSet):
    """One schedule of the contract page, checked whole by the service's
    rules (billing.services.schedules_check), as the API checks it."""

    def rows(self) -> list[dict]:
        """The rows the page keeps, as the service takes them."""
        keys = SCHEDULES[self.prefix].__annotations__
        return [
            {key: form.cleaned_data[key] for key in keys}
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]

    def clean(self):
        # Not super().clean(): its check of unique rows would repeat, in
        # other words, the service's (and miss rows without a task type).
        if any(self.errors):
            return
        problems = services.schedules_check(**{self.prefix: self.rows()})
        if problems:
            raise ValidationError([problem.message for problem in problems])


class ValueScheduleInline(admin.TabularInline):
    model = ValueScheduleRow
    formset = ScheduleFormSet
    extra = 0


class FeeScheduleInline(admin.TabularInline):
    model = FeeScheduleRow
    formset = ScheduleFormSet
    extra = 0


class SpendLimitInline(admin.TabularInline):
    model = SpendLimit
    formset = ScheduleFormSet
    extra = 0


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    form = ContractAdminForm
    inlines = [ValueScheduleInline, FeeScheduleInline, SpendLimitInline]
    list_display = [
        "code",
        "vendor",
        "customer",
        "currency",
        "period",
        "starts_on",
        "ends_on",
        "guarantee_multiple",
        "payout_cap_shown",
    ]
    list_filter = ["period", "currency", "vendor", "customer"]
    list_select_related = ["vendor", "customer"]
    search_fields = ["code", "vendor__slug", "customer__slug"]
    date_hierarchy = "starts_on"
    # Search-as-you-type over a catalog of thousands of models.
    autocomplete_fields = ["routing_models", "baseline_model"]
    # A webhook typed without a scheme is meant to be https.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    actions = ["webhook_secret_rotate"]
    readonly_fields = ["created_at", "drift_link"]

    payout_cap_shown = money_column("payout_cap", "payout cap")

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return fields if obj is None else (*fields, *CONTRACT_TERMS)

    def has_delete_permission(self, request, obj=None) -> bool:
        # Calls, outcomes and statements point at the contract (and PROTECT it).
        return False

    def save_model(self, request, obj, form, change):
        """Nothing yet: save_related writes the contract with its schedules,
        in one service call that sees the whole page."""

    def save_related(self, request, form, formsets, change):
        data = form.cleaned_data
        open_terms = {
            "ends_on": data["ends_on"],
            "webhook_url": data["webhook_url"],
            "routing_models": [model.name for model in data["routing_models"]],
            "routing": _routing(data),
            **{formset.prefix: formset.rows() for formset in formsets},
        }
        if change:
            services.contract_update(contract=form.instance, **open_terms)
        else:
            # contract_create takes organizations by slug, models by name.
            baseline = data["baseline_model"]
            contract = services.contract_create(
                **{name: data[name] for name in CONTRACT_TERMS if name not in BY_NAME},
                vendor=data["vendor"].slug,
                customer=data["customer"].slug,
                baseline_model=baseline.name if baseline is not None else None,
                **open_terms,
            )
            # The page's redirect and history name the contract written.
            form.instance.pk = contract.pk
            # Shown this once (docs/ALERTS.md "Signatures"); never on a page.
            self.message_user(
                request,
                f"The webhook signing secret of {contract.code} is {contract.webhook_secret} "
                "- store it now, it will not be shown again.",
                messages.WARNING,
            )
        for formset in formsets:
            # What the page changed, for the object's history; nothing is written.
            formset.save(commit=False)

    @admin.action(description="Rotate the webhook signing secret (shown once)")
    def webhook_secret_rotate(self, request, queryset):
        for contract in queryset:
            secret = webhooks.contract_webhook_secret_rotate(contract=contract)
            self.message_user(
                request,
                f"The new webhook signing secret of {contract.code} is {secret} "
                "- store it now, it will not be shown again.",
                messages.WARNING,
            )

    def get_urls(self):
        drift = path(
            "<path:object_id>/drift/",
            self.admin_site.admin_view(self.drift_view),
            name="billing_contract_drift",
        )
        return [drift, *super().get_urls()]

    @admin.display(description="cost drift")
    def drift_link(self, contract: Contract) -> str:
        if contract.pk is None:
            return "-"
        url = reverse("admin:billing_contract_drift", args=[contract.pk])
        return format_html('<a href="{}">Cost drift report</a>', url)

    def drift_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """DESIGN.md "Cost drift": the same report as GET .../drift."""
        contract = self.get_object(request, object_id)
        if contract is None:
            raise Http404(f"no contract {object_id!r}")
        if not self.has_view_permission(request, contract):
            raise PermissionDenied
        group_by = request.GET.get("group_by", "model")
        if group_by not in DRIFT_GROUP_BYS:
            group_by = "model"
        report = drift_report(contract=contract, group_by=group_by)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "contract": contract,
            "report": report,
            "rows": [*report.groups, report.totals],
            "group_bys": DRIFT_GROUP_BYS,
        }
        return TemplateResponse(request, "admin/billing/contract/drift.html", context)
