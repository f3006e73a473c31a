"""The process caches (core/caches.py): named once, bounded where asked,
and all forgotten by forget_all."""

import pytest

from billing.auth import AuthFailures, KeyRateThrottle
from core import caches


@pytest.fixture
def cache():
    return caches.ProcessCache("entries", max_entries=2)


def test_a_cache_gives_back_what_was_put_and_none_for_the_rest(cache):
    cache.put("a", 1)

    assert (cache.get("a"), cache.get("b"), cache.get("b", 0)) == (1, None, 0)


def test_a_full_cache_starts_over_for_a_new_key_but_not_for_a_known_one(cache):
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("b", 3)
    kept = (cache.get("a"), cache.get("b"), len(cache))

    cache.put("c", 4)

    assert kept == (1, 3, 2)
    assert (cache.get("a"), cache.get("b"), cache.get("c"), len(cache)) == (None, None, 4, 1)


def test_forget_where_drops_only_the_stale_keys(cache):
    cache.put(("x", 1), "old")
    cache.put(("x", 2), "new")

    cache.forget_where(lambda key: key[1] < 2)

    assert (cache.get(("x", 1)), cache.get(("x", 2))) == (None, "new")


def test_two_caches_never_share_a_name():
    with pytest.raises(ValueError, match="auth_failures"):
        caches.process_cache("auth_failures")


def test_forget_all_empties_every_cache_of_the_process():
    AuthFailures.counts.put(("192.0.2.1", 1), 3)
    KeyRateThrottle.counts.put(("prefix", 1), 7)

    caches.forget_all()

    assert (len(AuthFailures.counts), len(KeyRateThrottle.counts)) == (0, 0)
