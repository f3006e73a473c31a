"""``manage.py migrate`` runs as the owner role: ``--database`` defaults to
the ``owner`` connection (core/db_roles.py, docs/DATABASE.md); afterwards
the application's role gets its grants (post_migrate)."""

from django.core.management.commands import migrate

from core.db_roles import OWNER_ALIAS


class Command(migrate.Command):
    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.set_defaults(database=OWNER_ALIAS)
