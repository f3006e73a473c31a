"""gunicorn settings, for every way the API is served:
``gunicorn -c config/gunicorn.py config.wsgi`` (make serve, docker-compose,
the benchmarks). Command-line flags override these."""

import gc
import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 2))
timeout = 120
# After answering a request of fewer than SMALL_REQUEST_BYTES, a worker
# collects its young objects once there are this many (post_request).
YOUNG_COLLECTED_AFTER_ANSWER = 2_000
SMALL_REQUEST_BYTES = 64 * 1024


def post_worker_init(worker):
    # Every view and what it imports (numpy, scipy, the models), loaded now
    # rather than by the worker's first request (which took ~1.5 s), and
    # frozen below with the rest.
    from django.urls import resolve

    resolve("/healthz")
    # Ingesting a 5,000-record batch allocates ~100 objects a record. With the
    # framework's long-lived objects frozen out of the collector and a larger
    # young generation, the collector stops rescanning them every few hundred
    # allocations: about a fifth of ingestion CPU (docs/BENCHMARKS.md).
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def post_request(worker, req, environ, resp):
    # Each small request (a route decision, a read) leaves a few dozen
    # objects in reference cycles (the request, its session and messages);
    # with the young generation above they would be collected every ~30
    # requests in one pause of 5-30 ms, inside whichever request triggered
    # it. Collected here instead, once the answer is sent, in pauses of ~1 ms
    # (docs/ROUTING.md "Benchmark"). Not after a large body (an ingestion
    # batch): measured, it cost replayed batches a third more CPU per call.
    if (
        int(environ.get("CONTENT_LENGTH") or 0) < SMALL_REQUEST_BYTES
        and gc.get_count()[0] > YOUNG_COLLECTED_AFTER_ANSWER
    ):
        gc.collect(0)
