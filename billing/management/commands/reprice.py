"""python manage.py reprice --model M --price-json FILE (API.md "Drift,
reprice, journal"): the dry run of POST /api/v1/reprice, printed as the
same JSON. With --apply and --reason, a decided reprice: the price row and
the corrections the next nightly run turns into adjustment statements
(docs/PRICES.md "Repricing")."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from billing.api.finance import price_in, reprice_report_data
from billing.models import Contract
from billing.reprice import reprice_apply, reprice_dry_run
from core.errors import DomainError
from routing.selectors import model_get
from routing.serializers import PriceInSerializer


class Command(BaseCommand):
    help = "Report what a candidate price row would change (nothing stored), or apply it."

    def add_arguments(self, parser):
        parser.add_argument("--model", required=True, help="model name or alias")
        parser.add_argument(
            "--price-json",
            required=True,
            help="a JSON file holding a price row as in POST /api/v1/models/{name}/prices",
        )
        parser.add_argument(
            "--contract", action="append", default=None, help="only this contract (repeatable)"
        )
        parser.add_argument(
            "--apply",
            action="store_true",
            help="store the row and post the corrections (every contract); needs --reason",
        )
        parser.add_argument("--reason", default="", help="why the reprice is decided")

    def handle(self, *args, **options):
        try:
            raw = json.loads(Path(options["price_json"]).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read {options['price_json']}: {exc}") from exc
        body = PriceInSerializer(data=raw)
        if not body.is_valid():
            raise CommandError(f"the price is not valid: {json.dumps(body.errors)}")
        price = price_in(body.validated_data)
        try:
            model = model_get(name=options["model"])
            if options["apply"]:
                if options["contract"]:
                    raise CommandError("--apply reprices every contract: drop --contract")
                report = reprice_apply(
                    model=model, price=price, reason=options["reason"], source="reprice command"
                )
            else:
                contracts = None
                if options["contract"]:
                    contracts = list(Contract.objects.filter(code__in=options["contract"]))
                    missing = set(options["contract"]) - {c.code for c in contracts}
                    if missing:
                        raise CommandError(f"no contract {', '.join(sorted(missing))}")
                report = reprice_dry_run(model=model, price=price, contracts=contracts)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(json.dumps(reprice_report_data(report), indent=2))
