"""The Django admin of organizations, API keys and contracts (DESIGN.md "Who
uses it": admins). docs/ADMIN.md says which contract terms stay editable."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from billing import services
from billing.auth import verified_keys_forget
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
    """The admin builds the fields; this adds the service's rules."""

    def clean(self):
        """The rules of billing/services.py, for contracts created or ended
        here. Read-only terms are absent from the form: take the stored ones."""
        data = super().clean()
        if self.errors:
            return data

        def term(name):
            return data[name] if name in data else getattr(self.instance, name)

        problems = services.contract_terms_check(
            vendor_id=term("vendor").pk,
            customer_id=term("customer").pk,
            currency=term("currency"),
            fx_rate=term("fx_rate"),
            timezone=term("timezone"),
            starts_on=term("starts_on"),
            ends_on=term("ends_on"),
            amounts={name: term(name) for name in services.NOT_NEGATIVE_TERMS},
            payout_share=term("payout_share"),
            baseline_model=term("baseline_model"),
        )
        if problems:
            raise ValidationError({p.field: p.message for p in problems})
        return data


class ValueScheduleInline(admin.TabularInline):
    model = ValueScheduleRow
    extra = 0


class FeeScheduleInline(admin.TabularInline):
    model = FeeScheduleRow
    extra = 0


class SpendLimitInline(admin.TabularInline):
    model = SpendLimit
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
    readonly_fields = ["created_at"]

    payout_cap_shown = money_column("payout_cap", "payout cap")

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return fields if obj is None else (*fields, *CONTRACT_TERMS)

    def has_delete_permission(self, request, obj=None) -> bool:
        # Calls, outcomes and statements point at the contract (and PROTECT it).
        return False
