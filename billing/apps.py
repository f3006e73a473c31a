from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing: organizations, contracts, statements"

    def ready(self) -> None:
        # Admin pages of the upper-layer modules live beside them, out of
        # billing/admin.py; importing them registers them.
        from billing import admin_alerts, admin_statements  # noqa: F401
