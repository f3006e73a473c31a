"""``manage.py simulate_routing --weeks N --seed S``: the routing loop on a
synthetic workload (routing/simulation.py), week by week, and a chart under
out/ (docs/ROUTING.md)."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from routing import simulation


class Command(BaseCommand):
    help = "Simulate weeks of routed work through ingestion and nightly policy learning."

    def add_arguments(self, parser):
        parser.add_argument("--weeks", type=int, default=4)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--scale", type=float, default=1.0, help="x the daily task volumes")

    def handle(self, *args, weeks, seed, scale, **options):
        result = simulation.simulate(weeks=weeks, seed=seed, scale=scale)
        uniform = simulation.expected_value_per_dollar(simulation.UNIFORM)
        frontier = simulation.expected_value_per_dollar(simulation.FRONTIER)
        self.stdout.write(f"contract {result.contract.code}")
        self.stdout.write(
            f"expected value per dollar: uniform {uniform:.1f}, always frontier {frontier:.1f}"
        )
        self.stdout.write(
            f"{'week':>4} {'tasks':>6} {'cost USD':>10} {'frontier USD':>12} "
            f"{'efficiency':>10} {'accepted':>8} {'value/$':>9}"
        )
        for week in result.weeks:
            self.stdout.write(
                f"{week.number:>4} {week.tasks:>6} {week.cost_usd:>10.2f} "
                f"{week.frontier_cost_usd:>12.2f} {week.efficiency:>9.2f}x "
                f"{week.accepted_rate:>8.1%} {week.value_per_dollar:>9.1f}"
            )
        for task_type, weights in result.final_weights.items():
            shown = ", ".join(f"{m} {w}" for m, w in weights.items())
            self.stdout.write(f"final weights {task_type}: {shown}")
        path = Path(settings.BASE_DIR) / "out" / f"routing-simulation-seed{seed}.html"
        self.stdout.write(f"chart: {simulation.chart_write(result, path)}")
