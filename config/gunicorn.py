"""gunicorn settings, for every way the API is served:
``gunicorn -c config/gunicorn.py config.wsgi`` (make serve, docker-compose,
the benchmarks). Command-line flags override these."""

import gc
import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 2))
timeout = 120


def post_worker_init(worker):
    # Ingesting a 5,000-record batch allocates ~100 objects a record. With the
    # framework's long-lived objects frozen out of the collector and a larger
    # young generation, the collector stops rescanning them every few hundred
    # allocations: about a fifth of ingestion CPU (docs/BENCHMARKS.md).
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
