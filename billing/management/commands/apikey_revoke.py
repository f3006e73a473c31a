"""``python manage.py apikey_revoke PREFIX``: the key stops working at once;
revocation cannot be undone."""

from django.core.management.base import BaseCommand, CommandError

from billing import services
from billing.models import ApiKey


class Command(BaseCommand):
    help = "Revoke an API key by its prefix (the part of the key before the dot)."

    def add_arguments(self, parser):
        parser.add_argument("prefix", help="the key's prefix, or the whole key")

    def handle(self, *args, prefix: str, **options):
        prefix = prefix.partition(".")[0]
        key = ApiKey.objects.select_related("organization").filter(prefix=prefix).first()
        if key is None:
            raise CommandError(f"no API key with prefix '{prefix}'")
        services.apikey_revoke(key=key)
        self.stdout.write(f"Revoked {key.role} key {prefix} of '{key.organization.slug}'.")
