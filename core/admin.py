"""Admin pieces shared by the apps."""

from operator import attrgetter

from django.contrib import admin

from core.money import minor_unit


def money_column(field: str, description: str, *, currency: str = "currency"):
    """A change-list column showing ``field`` to its currency's minor unit
    (``1,234.50 USD``): a list is read at a glance. The detail page shows
    the stored amount, to 10 places. ``currency``: the attribute path of the
    row's currency code (``"contract.currency"``), or ``"USD"`` for amounts
    in USD."""
    currency_of = (lambda row: "USD") if currency == "USD" else attrgetter(currency)

    @admin.display(description=description, ordering=field)
    def column(self, row) -> str:
        code = currency_of(row)
        return f"{getattr(row, field):,.{minor_unit(code)}f} {code}"

    return column


class ReadOnlyAdminMixin:
    """An admin (or inline) that shows rows and never adds, changes or
    deletes them: append-only records, issued statements, alerts, policies."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
