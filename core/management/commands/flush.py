"""``manage.py flush`` empties the tables as the owner role: the
application's role may not TRUNCATE the append-only tables
(core/db_roles.py, docs/DATABASE.md). The test suite's transactional tests
are emptied this way too."""

from django.core.management.commands import flush

from core.db_roles import connected_as_owner


class Command(flush.Command):
    def handle(self, **options):
        with connected_as_owner(options["database"]):
            super().handle(**options)
