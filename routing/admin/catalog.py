"""The catalog and the price book in the Django admin (DESIGN.md "Who uses it":
admins manage the price book).

A stored price row is history: calls were costed with it. The admin adds
rows and shows them; it never edits or deletes one (a new price is a new row
with a later effective_from, DESIGN.md "Price book")."""

from django import forms
from django.contrib import admin

from routing.models import LlmModel, ModelAlias, Price
from routing.selectors import backdating_errors, names_taken
from routing.services import LongContextIn, PriceIn, price_errors


class ModelAliasForm(forms.ModelForm):
    class Meta:
        model = ModelAlias
        fields = ["alias"]

    def clean_alias(self):
        # An alias must not be any model's name either (routing.services.model_create);
        # the unique constraint only covers other aliases.
        alias = self.cleaned_data["alias"]
        if LlmModel.objects.filter(name=alias).exists():
            raise forms.ValidationError(f"'{alias}' is a model's name")
        return alias


class ModelAliasInline(admin.TabularInline):
    model = ModelAlias
    form = ModelAliasForm
    extra = 1


class LlmModelForm(forms.ModelForm):
    class Meta:
        model = LlmModel
        fields = ["name", "provider", "tier"]

    def clean_name(self):
        name = self.cleaned_data["name"]
        changed = self.instance.pk is None or name != self.instance.name
        if changed and name in names_taken(names=[name]):
            raise forms.ValidationError(f"'{name}' is already a model name or alias")
        return name


@admin.register(LlmModel)
class LlmModelAdmin(admin.ModelAdmin):
    form = LlmModelForm
    inlines = [ModelAliasInline]
    list_display = ["name", "provider", "tier", "alias_list"]
    list_filter = ["tier", "provider"]
    search_fields = ["name", "aliases__alias", "provider"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("aliases")

    @admin.display(description="aliases")
    def alias_list(self, model: LlmModel) -> str:
        return ", ".join(alias.alias for alias in model.aliases.all())


class PriceForm(forms.ModelForm):
    class Meta:
        model = Price
        fields = [
            "llm_model",
            "service_tier",
            "effective_from",
            "input",
            "output",
            "cache_read",
            "cache_write",
            "cache_write_1h",
            "per_request_usd",
            "long_context_threshold",
            "long_context_input",
            "long_context_output",
            "long_context_cache_read",
            "long_context_cache_write",
            "long_context_cache_write_1h",
        ]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        long_context = None
        if data.get("long_context_threshold") is not None:
            long_context = LongContextIn(
                input=data.get("long_context_input"),
                output=data.get("long_context_output"),
                cache_read=data.get("long_context_cache_read"),
                cache_write=data.get("long_context_cache_write"),
                cache_write_1h=data.get("long_context_cache_write_1h"),
            )
        price = PriceIn(
            effective_from=data["effective_from"],
            input=data["input"],
            output=data["output"],
            service_tier=data["service_tier"],
            cache_read=data.get("cache_read"),
            cache_write=data.get("cache_write"),
            cache_write_1h=data.get("cache_write_1h"),
            per_request_usd=data["per_request_usd"],
            long_context_threshold=data.get("long_context_threshold"),
            long_context=long_context,
        )
        errors = price_errors(price)
        if errors:
            raise forms.ValidationError([error.message for error in errors])
        backdated = backdating_errors(
            model_id=data["llm_model"].id,
            service_tier=price.service_tier,
            effective_from=price.effective_from,
        )
        if backdated:
            raise forms.ValidationError(backdated)
        return data


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    form = PriceForm
    list_display = [
        "llm_model",
        "service_tier",
        "effective_from",
        "input",
        "output",
        "cache_read",
        "cache_write",
        "cache_write_1h",
        "per_request_usd",
        "long_context_threshold",
        "source",
    ]
    list_filter = ["service_tier", "llm_model__tier", "llm_model__provider", "effective_from"]
    list_select_related = ["llm_model"]
    search_fields = ["llm_model__name", "llm_model__aliases__alias"]
    date_hierarchy = "effective_from"
    ordering = ["llm_model__name", "service_tier", "-effective_from"]
    autocomplete_fields = ["llm_model"]

    def has_change_permission(self, request, obj=None) -> bool:
        # Rows are added, never edited (see the module docstring); viewing stays.
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        obj.source = f"admin:{request.user}"[:200]
        super().save_model(request, obj, form, change)
