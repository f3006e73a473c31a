"""``manage.py demo`` (``make demo``): migrate, seed a realistic month, run
the nightly chain, and print what it found. Every task runs in this process,
whatever ``CELERY_BROKER_URL`` says: the demo needs no broker or worker."""

from collections import defaultdict
from decimal import Decimal

from django.core.management import call_command
from django.core.management.base import BaseCommand
from rich.console import Console
from rich.table import Table

from billing.formulas import efficiency
from billing.models import Statement, StatementKind
from billing.selectors import statement_list
from config.celery import app
from ops.demo import demo_seed, demo_settle_as_of
from ops.nightly import nightly_chain
from routing.learning import policy_current


def _money(value: Decimal, currency: str = "USD") -> str:
    return f"{value:,.2f} {currency}"


def _times(ratio: Decimal | None) -> str:
    return "-" if ratio is None else f"{ratio:.1f}x"


class Command(BaseCommand):
    help = "Seed a realistic demo month, run the nightly chain and print ROI, payout and savings."

    def add_arguments(self, parser):
        parser.add_argument("--tasks", type=int, default=21000, help="tasks in the demo month")

    def handle(self, *args, tasks, **options):
        app.conf.task_always_eager = True
        console = Console()
        call_command("migrate", verbosity=0)
        with console.status("Seeding a month of routed calls and outcomes..."):
            result = demo_seed(tasks=tasks)
        contract = result.contract
        if result.seeded:
            console.print(
                f"Ingested {result.calls:,} calls and {result.outcomes:,} outcomes "
                f"({result.rejected} rejected) into contract [bold]{contract.code}[/]."
            )
        else:
            console.print(
                f"Contract [bold]{contract.code}[/] was seeded before; not seeding again."
            )
        with console.status("Running the nightly chain..."):
            # The first night the demo month is due: it settles October and
            # learns routing weights from its last four weeks.
            nightly_chain(demo_settle_as_of()).apply().get()
        # The latest statement of each period: an adjustment, once a period
        # was re-settled, else its settlement.
        latest: dict = {}
        for statement in statement_list(contract=contract).order_by("period_start", "number"):
            latest[statement.period_start] = statement
        if not latest:
            console.print("No period is due for settlement yet.")
        for statement in latest.values():
            self._summary(console, statement)
        self._routing(console, contract)
        number = max((s.number for s in latest.values()), default=1)
        if result.customer_key:
            key = result.customer_key
            key_line = f"  customer API key (shown once, keep it): {key}\n"
        else:
            key = "<customer key>"
            key_line = (
                "  the customer API key was shown by the first run; another one:\n"
                f"    .venv/bin/python manage.py apikey_create --org {contract.customer.slug} "
                "--role customer\n"
            )
        console.print(
            "\n[bold]Where to look next[/]\n"
            "  make serve, then http://127.0.0.1:8000/api/docs/ (Swagger UI)\n"
            f"{key_line}"
            f"  curl -H 'Authorization: Bearer {key}' "
            f"http://127.0.0.1:8000/api/v1/contracts/{contract.code}/statements/{number}\n"
            "  .venv/bin/python manage.py createsuperuser, then http://127.0.0.1:8000/admin/",
            soft_wrap=True,
        )

    def _routing(self, console: Console, contract) -> None:
        policy = policy_current(contract=contract)
        table = Table(title=f"Routing weights learned (policy version {policy.version})")
        table.add_column("task type")
        table.add_column("weights (share of requests per model)")
        for task_type, entry in sorted(policy.task_types.items()):
            weights = sorted(entry["weights"].items(), key=lambda kv: -Decimal(kv[1]))
            table.add_row(task_type, ", ".join(f"{model} {Decimal(w):.0%}" for model, w in weights))
        console.print(table)

    def _summary(self, console: Console, statement: Statement) -> None:
        cur = statement.currency
        by_tier: dict[str, Decimal] = defaultdict(Decimal)
        by_task: dict[str, list] = defaultdict(lambda: [0, Decimal(0), Decimal(0)])
        for line in statement.lines:
            by_tier[line["tier"]] += Decimal(line["cost_usd"])
            task = by_task[line["task_type"]]
            task[0] += line["calls"]
            task[1] += Decimal(line["cost_usd"])
            task[2] += Decimal(line["baseline_cost_usd"])
        tiers = Table(title="Cost per tier")
        tiers.add_column("tier")
        tiers.add_column("cost", justify="right")
        for tier, cost in sorted(by_tier.items()):
            tiers.add_row(tier, _money(cost))
        console.print(tiers)
        tasks = Table(title="Cost per task type, and savings against the baseline model")
        for column in ("task type", "calls", "cost", "baseline cost", "efficiency"):
            tasks.add_column(column, justify="left" if column == "task type" else "right")
        for name, (calls, cost, baseline) in sorted(by_task.items()):
            tasks.add_row(
                name,
                f"{calls:,}",
                _money(cost),
                _money(baseline),
                _times(efficiency(baseline_cost_usd=baseline, cost_usd=cost)),
            )
        console.print(tasks)
        kind = (
            f"adjusts #{statement.adjusts.number}, figures as differences"
            if statement.kind == StatementKind.ADJUSTMENT
            else "settlement"
        )
        console.print(
            f"\n[bold]Statement #{statement.number}[/] ({kind}): {statement.period_start} "
            f"to {statement.period_end} (exclusive)",
            soft_wrap=True,
        )
        totals = Table()
        totals.add_column("figure")
        totals.add_column("amount", justify="right")
        rows = [
            ("calls", f"{statement.calls:,}"),
            ("AI cost", _money(statement.cost_usd)),
            ("usage charges", _money(statement.usage_charges, cur)),
            ("outcome fees", _money(statement.outcome_fees, cur)),
            ("fixed fee", _money(statement.fixed_fee, cur)),
            ("charges", _money(statement.charges, cur)),
            ("value delivered", _money(statement.value, cur)),
            ("accepted outcomes", f"{statement.accepted_outcomes:,}"),
            ("ROI", "-" if statement.roi is None else f"{statement.roi:.2%}"),
            ("guaranteed value", _money(statement.guaranteed_value, cur)),
            ("shortfall", _money(statement.shortfall, cur)),
            ("payout owed by the vendor", _money(statement.payout, cur)),
            ("payout cap remaining", _money(statement.cap_remaining, cur)),
            ("routing savings vs baseline", _money(statement.savings_usd)),
            ("efficiency", "-" if statement.efficiency is None else f"{statement.efficiency:.2f}x"),
            ("input digest", statement.input_digest[:16] + "..."),
        ]
        for name, amount in rows:
            totals.add_row(name, amount)
        console.print(totals)
