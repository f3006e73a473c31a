from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "routing"
    verbose_name = "Routing: catalog, price book, policies"

    def ready(self) -> None:
        # Policy admin lives apart from the catalog admin (routing/admin.py).
        from routing import admin_policies  # noqa: F401
