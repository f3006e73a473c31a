"""Statements in the Django admin: read-only (an issued statement is never
modified or deleted, DESIGN.md "Period settlement"), each linking to its
printable page. Staff sign in to the admin, not with an API key, so the
admin serves the page itself, from the same renderer as the API."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils.html import format_html

from billing.api.statements import statement_page
from billing.models import RepriceCorrection, Statement
from core.admin import ReadOnlyAdminMixin, money_column


@admin.register(Statement)
class StatementAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    # The page link early: the list stays readable on a laptop screen.
    list_display = [
        "contract",
        "number",
        "page_link",
        "kind",
        "period_start",
        "charges_shown",
        "value_shown",
        "payout_shown",
        "as_of",
    ]
    list_filter = ["kind", "contract"]
    list_select_related = ["contract", "adjusts"]
    search_fields = ["contract__code"]
    date_hierarchy = "issued_at"
    readonly_fields = ["page_link"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("contract", "adjusts")

    def get_urls(self):
        page = path(
            "<path:object_id>/page/",
            self.admin_site.admin_view(self.page_view),
            name="billing_statement_page",
        )
        return [page, *super().get_urls()]

    charges_shown = money_column("charges", "charges")
    value_shown = money_column("value", "value")
    payout_shown = money_column("payout", "payout")

    @admin.display(description="printable page")
    def page_link(self, statement: Statement) -> str:
        url = reverse("admin:billing_statement_page", args=[statement.pk])
        return format_html('<a href="{}" target="_blank">Statement page</a>', url)

    def page_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        statement = self.get_object(request, object_id)
        if statement is None:
            raise Http404(f"no statement {object_id!r}")
        if not self.has_view_permission(request, statement):
            raise PermissionDenied
        return statement_page(request, statement)


@admin.register(RepriceCorrection)
class RepriceCorrectionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """A decided reprice's corrections (docs/PRICES.md "Repricing"): written
    by ``manage.py reprice --apply``, append-only, read-only here."""

    list_display = ["contract", "period_start", "llm_model", "calls", "cost_usd", "charge"]
    list_filter = ["contract", "llm_model"]
    list_select_related = ["contract", "llm_model"]
    date_hierarchy = "created_at"
