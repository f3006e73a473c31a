"""The catalog and the price book in the Django admin (DESIGN.md "Who uses it":
admins manage the price book).

Every write goes through routing/services.py, as over the API: a form's
clean runs the service's check (model_check, price_check) and shows what it
refuses as form errors; the save calls the service (model_create,
model_update, model_delete, price_create). The check takes the catalog lock,
and the admin checks and saves in one transaction, so the row saved is the
row checked.

A stored price row is history: calls were costed with it. The admin adds
rows and shows them; it never edits or deletes one (a new price is a new row
with a later effective_from, DESIGN.md "Price book")."""

from django import forms
from django.contrib import admin

from core.errors import DomainError
from routing import services
from routing.models import LlmModel, Price


def _add_errors(form: forms.Form, exc: DomainError) -> None:
    """What a service refused, on the page: each problem of the input at its
    field (the wire's "long_context.input" is the form's
    "long_context_input"), a conflict above the form."""
    if not isinstance(exc.details, list):
        form.add_error(None, exc.message)
        return
    for problem in exc.details:
        field = problem["field"].replace(".", "_")
        form.add_error(field if field in form.fields else None, problem["message"])


class NamesField(forms.CharField):
    """Names, one per line (blank lines ignored), as a list."""

    widget = forms.Textarea(attrs={"rows": 4})

    def to_python(self, value) -> list[str]:
        return [line.strip() for line in (value or "").splitlines() if line.strip()]

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value


class LlmModelForm(forms.ModelForm):
    aliases = NamesField(
        required=False,
        help_text="One per line: other names calls give this model (a dated snapshot, "
        "a provider prefix).",
    )

    class Meta:
        model = LlmModel
        fields = ["name", "provider", "tier"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial["aliases"] = [alias.alias for alias in self.instance.aliases.all()]

    def entry(self) -> dict:
        """The catalog entry as the services take it."""
        return {name: self.cleaned_data[name] for name in ("name", "provider", "tier", "aliases")}

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            # The model's own names stay free to it (the instance is as stored).
            edited = self.instance if self.instance.pk is not None else None
            services.model_check(**self.entry(), model=edited)
        except DomainError as exc:
            _add_errors(self, exc)
        return data

    def validate_unique(self):
        """model_check has said whether the name is free, among every model's
        names and aliases alike; the name's own unique check would say it
        again in other words."""


@admin.register(LlmModel)
class LlmModelAdmin(admin.ModelAdmin):
    form = LlmModelForm
    list_display = ["name", "provider", "tier", "alias_list"]
    list_filter = ["tier", "provider"]
    search_fields = ["name", "aliases__alias", "provider"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("aliases")

    @admin.display(description="aliases")
    def alias_list(self, model: LlmModel) -> str:
        return ", ".join(alias.alias for alias in model.aliases.all())

    def save_model(self, request, obj, form, change):
        if change:
            services.model_update(model=obj, **form.entry())
        else:
            # The page's redirect and history name the row the service wrote.
            obj.pk = services.model_create(**form.entry()).pk

    def delete_model(self, request, obj):
        services.model_delete(model=obj)

    def delete_queryset(self, request, queryset):
        for model in queryset:
            services.model_delete(model=model)


# The form fields that are price_create's arguments under the same name.
PRICE_TERMS = (
    "service_tier",
    "effective_from",
    "input",
    "output",
    "cache_read",
    "cache_write",
    "cache_write_1h",
    "per_request_usd",
    "long_context_threshold",
)


class PriceForm(forms.ModelForm):
    class Meta:
        model = Price
        fields = [
            "llm_model",
            *PRICE_TERMS,
            *(f"long_context_{name}" for name in services.TOKEN_PRICES),
        ]

    def price_terms(self) -> dict:
        """The row as price_create takes it."""
        data = self.cleaned_data
        terms = {name: data.get(name) for name in PRICE_TERMS}
        terms["long_context"] = (
            None
            if data.get("long_context_threshold") is None
            else services.LongContextIn(
                **{name: data.get(f"long_context_{name}") for name in services.TOKEN_PRICES}
            )
        )
        return terms

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            services.price_check(
                model=data["llm_model"], price=services.PriceIn(**self.price_terms())
            )
        except DomainError as exc:
            _add_errors(self, exc)
        return data


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    form = PriceForm
    list_display = ["llm_model", *PRICE_TERMS, "source"]
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
        price = services.price_create(
            model=obj.llm_model, source=f"admin:{request.user}"[:200], **form.price_terms()
        )
        # The page's redirect and history name the row the service wrote.
        obj.pk = price.pk
