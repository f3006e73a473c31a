"""``manage.py simulate_routing --days N --seed S``: the routing loop on a
synthetic workload whose requests have a hidden difficulty
(routing/simulation.py), served always-frontier, per task type and request
by request; week by week figures and a chart under out/ (docs/ROUTING.md)."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from routing import simulation


class Command(BaseCommand):
    help = "Simulate days of routed work through the route service, ingestion and learning."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=28)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--scale", type=float, default=1.0, help="x the daily volumes")

    def handle(self, *args, days, seed, scale, **options):
        result = simulation.simulate(days=days, seed=seed, scale=scale)
        self.stdout.write(
            f"{'way':<16} {'week':>4} {'tasks':>6} {'cost USD':>10} {'success':>8} "
            f"{'value':>10} {'net value':>10}"
        )
        for strategy, weeks in result.weeks.items():
            for week in weeks:
                self.stdout.write(
                    f"{strategy:<16} {week.number:>4} {week.tasks:>6} {week.cost_usd:>10.2f} "
                    f"{week.success_rate:>8.1%} {week.value:>10.2f} {week.net_value:>10.2f}"
                )
        last = {s: weeks[-1] for s, weeks in result.weeks.items()}
        frontier = last["always-frontier"]
        for strategy, week in last.items():
            self.stdout.write(
                f"last week, {strategy}: cost x{frontier.cost_usd / week.cost_usd:.2f} "
                f"cheaper than always-frontier, success "
                f"{(week.success_rate - frontier.success_rate) * 100:+.1f} pp"
            )
        path = Path(settings.BASE_DIR) / "out" / f"routing-simulation-seed{seed}.html"
        self.stdout.write(f"chart: {simulation.chart_write(result, path)}")
