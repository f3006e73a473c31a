"""``python manage.py apikey_create --org SLUG --role ROLE [--create-org]``
(API.md "Operations"): prints a new key once, on stdout alone, so that
``KEY=$(python manage.py apikey_create ...)`` captures exactly the key."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from billing import services
from billing.models import Organization
from core.errors import DomainError


class Command(BaseCommand):
    help = "Create an API key for an organization and print it (shown once)."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="organization slug")
        # Not argparse choices: a bad role is the service's error, exit code 1.
        parser.add_argument("--role", required=True, help="vendor, customer or admin")
        parser.add_argument(
            "--create-org", action="store_true", help="create the organization if it is new"
        )
        parser.add_argument("--name", help="a label for the key (default: '<role> key')")

    def handle(self, *args, org: str, role: str, create_org: bool, name: str | None, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None and not create_org:
            raise CommandError(f"no organization '{org}' (pass --create-org to create it)")
        created_org = organization is None
        try:
            # A bad role must not leave a new organization behind.
            with transaction.atomic():
                if created_org:
                    organization = services.organization_create(slug=org, name=org)
                key, secret = services.apikey_create(
                    organization=organization, role=role, name=name or f"{role} key"
                )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        if created_org:
            self.stderr.write(f"Created organization '{org}'.")
        self.stderr.write(
            f"Created {role} key {key.prefix} for '{org}'. It is shown once: store it now."
        )
        self.stdout.write(secret)
