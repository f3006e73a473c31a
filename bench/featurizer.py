"""The client's default request featurizer (docs/LITELLM.md "Privacy of
features"): microseconds per request, median and p99, over a seeded mix of
requests of 100 to 8,000 characters (prose, code, maths, lists), against a
floor measured in the same run: one pass of ``str.lower`` and
``str.split`` over the same texts.

    python -m bench.featurizer [--requests 20000] [--seed 1]
"""

import argparse
import random
import statistics
import time

from outcome_ledger_client import request_features

WORDS = [
    "the",
    "a",
    "of",
    "to",
    "and",
    "in",
    "is",
    "for",
    "that",
    "with",
    "on",
    "as",
    "this",
    "by",
    "be",
    "are",
    "from",
    "it",
    "or",
    "an",
    "at",
    "which",
    "we",
    "explain",
    "why",
    "how",
    "summarize",
    "translate",
    "classify",
    "debug",
    "refactor",
    "optimize",
    "list",
    "extract",
    "customer",
    "invoice",
    "ticket",
    "refund",
    "order",
    "account",
    "error",
    "timeout",
    "latency",
    "request",
    "response",
]
CODE = [
    "def handler(event):\n    return {'status': 200}\n",
    "for (int i = 0; i < n; i++) { total += a[i]; }\n",
    "import numpy as np\nx = np.linspace(0, 1, 100)\n",
    "SELECT id, total FROM orders WHERE total > 100;\n",
]
MATHS = ["Prove that \\frac{a}{b} + \\sqrt{c} \\le 2^n. ", "Solve x^2 - 5x + 6 = 0. "]


def request_text(rng: random.Random) -> str:
    target = rng.choice((100, 400, 1_500, 4_000, 8_000))
    parts: list[str] = []
    size = 0
    while size < target:
        kind = rng.random()
        if kind < 0.6:
            part = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 25))) + ". "
        elif kind < 0.8:
            part = "```\n" + rng.choice(CODE) + "```\n"
        elif kind < 0.9:
            part = rng.choice(MATHS)
        else:
            part = f"\n- item {rng.randint(1, 99)}: " + rng.choice(WORDS)
        parts.append(part)
        size += len(part)
    return "".join(parts) + rng.choice(("?", ".", ""))


def timed(function, texts: list[str]) -> list[float]:
    """Microseconds per call, one call per text."""
    out = []
    for text in texts:
        started = time.perf_counter_ns()
        function(text)
        out.append((time.perf_counter_ns() - started) / 1000)
    return out


def floor(text: str) -> int:
    return len(text.lower().split())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    texts = [request_text(rng) for _ in range(args.requests)]
    timed(request_features, texts[:500])  # warm up
    features = timed(request_features, texts)
    base = timed(floor, texts)
    mean_chars = statistics.fmean(len(t) for t in texts)
    print(f"{args.requests:,} requests, {mean_chars:,.0f} characters on average")
    for name, values in (("request_features (markers-v1)", features), ("floor: lower+split", base)):
        print(
            f"{name:<30} median {statistics.median(values):8.1f} us   "
            f"p99 {percentile(values, 99):8.1f} us"
        )
    print(
        "ratio to the floor: median "
        f"{statistics.median(features) / statistics.median(base):.1f}x, "
        f"p99 {percentile(features, 99) / percentile(base, 99):.1f}x"
    )


if __name__ == "__main__":
    main()
