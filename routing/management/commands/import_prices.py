"""``python manage.py import_prices --litellm FILE | --csv FILE | --bundled``
(API.md "Operations"; docs/PRICES.md)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from core.api import parse_time
from core.errors import DomainError
from routing.importers import (
    BUNDLED_SOURCE,
    Parsed,
    Tiers,
    bundled_rows,
    csv_rows,
    litellm_rows,
    tiers_read,
)
from routing.models import Tier
from routing.services import ImportReport, prices_import


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from exc


class Command(BaseCommand):
    help = (
        "Import prices into the price book. Rows that differ from a stored row "
        "are rejected, never applied; exits 1 when any row was rejected."
    )

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--litellm", metavar="FILE", type=Path, help="LiteLLM's price JSON")
        source.add_argument("--csv", metavar="FILE", type=Path, help="a CSV (docs/PRICES.md)")
        source.add_argument(
            "--bundled", action="store_true", help="the snapshot shipped in routing/data"
        )
        parser.add_argument(
            "--effective-from",
            metavar="TIME",
            help="with --litellm: when its prices take effect (RFC 3339; "
            "default: today 00:00 UTC, as the file has no dates)",
        )
        parser.add_argument(
            "--tiers",
            metavar="FILE",
            type=Path,
            help="the tiers of models the import creates: JSON {model: tier} or CSV model,tier",
        )
        parser.add_argument(
            "--tier",
            choices=Tier.values,
            help="the tier of every other model the import creates "
            "(default: the file's own tier, else unknown)",
        )

    def handle(self, *args, litellm, csv, bundled, effective_from, tiers, tier, **options):
        if effective_from and not litellm:
            raise CommandError("--effective-from goes with --litellm only")
        try:
            operator = Tiers(tiers_read(_read(tiers)) if tiers else {}, tier)
            if litellm:
                start = (
                    parse_time(effective_from, "effective-from")
                    if effective_from
                    else timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
                )
                parsed = litellm_rows(_read(litellm), effective_from=start, tiers=operator)
                source = f"litellm:{litellm.name}"
            elif csv:
                parsed, source = csv_rows(_read(csv), tiers=operator), f"csv:{csv.name}"
            else:
                parsed, source = bundled_rows(), BUNDLED_SOURCE
        except DomainError as exc:
            raise CommandError(f"{exc.message} {exc.details or ''}".strip()) from exc
        console = Console(file=self.stdout, highlight=False)
        if not console.is_terminal:
            # Logs are read in full: no clipping of reasons at 80 columns.
            console.width = 200
        # The bar is for a person at a terminal; logs and pipes get the report only.
        with Progress(console=console, transient=True, disable=not console.is_terminal) as progress:
            rows = progress.track(parsed.rows, description="Importing prices")
            report = prices_import(rows=rows, source=source[:200])
        self._print_report(console, parsed, report)
        if report.rejected:
            raise CommandError(f"{len(report.rejected)} rows rejected", returncode=1)

    def _print_report(self, console: Console, parsed: Parsed, report: ImportReport) -> None:
        console.print(
            f"added {len(report.added)}, unchanged {len(report.unchanged)}, "
            f"rejected {len(report.rejected)}; "
            f"models created {len(report.models_created)}; "
            f"entries skipped (not chat models) {len(parsed.skipped)}",
            soft_wrap=True,
        )
        if report.models_untiered:
            # DESIGN.md "Routing savings": an untiered model is priced and
            # costed but never a default baseline; docs/PRICES.md "Tiers".
            console.print(
                f"left untiered (tier unknown; set it in the admin or import again with "
                f"--tiers/--tier) {len(report.models_untiered)}: "
                + ", ".join(report.models_untiered),
                soft_wrap=True,
            )
        if not report.rejected:
            return
        table = Table("where", "model", "service tier", "effective from", "reasons")
        for rejected in report.rejected:
            row = rejected.row
            table.add_row(
                row.origin,
                row.model,
                row.service_tier or "",
                row.effective_from.isoformat() if row.effective_from else "",
                "\n".join(rejected.reasons),
            )
        console.print(table)
