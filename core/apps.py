from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Shared plumbing"

    def ready(self):
        from core.db_roles import roles_after_migrate

        post_migrate.connect(roles_after_migrate, dispatch_uid="core.roles_after_migrate")
