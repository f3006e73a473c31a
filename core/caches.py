"""What a process keeps in memory between requests: the API keys it
verified, who reaches which contract, each contract's routing policy in
force, the counters of failed keys and of requests per key. Each cache is
declared here by name (``process_cache``) next to the code that reads it,
and ``forget_all`` empties every one (a test starts from a fresh process).

A cache is a dict and nothing more: a hit on the route path is one dict
lookup (docs/ROUTING.md "Benchmark"). Who fills it says in a comment why
what it keeps stays true, and who must forget an entry when it does not.
"""

from collections.abc import Callable, Hashable
from typing import Any


class ProcessCache:
    """One named cache of this process. Past ``max_entries`` (None: no
    bound) a new key empties it first: what it held is read again, and
    nobody can make it grow without end."""

    __slots__ = ("_entries", "get", "max_entries", "name")

    def __init__(self, name: str, *, max_entries: int | None) -> None:
        self.name = name
        self.max_entries = max_entries
        self._entries: dict[Hashable, Any] = {}
        # The dict's own method: a lookup runs no Python code of ours.
        self.get = self._entries.get

    def put(self, key: Hashable, value: Any) -> None:
        if (
            self.max_entries is not None
            and key not in self._entries
            and len(self._entries) >= self.max_entries
        ):
            self._entries.clear()
        self._entries[key] = value

    def forget(self, key: Hashable) -> None:
        self._entries.pop(key, None)

    def forget_where(self, stale: Callable[[Any], bool]) -> None:
        """Forget every entry whose key is ``stale``."""
        for key in [key for key in self._entries if stale(key)]:
            self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


_caches: dict[str, ProcessCache] = {}


def process_cache(name: str, *, max_entries: int | None = None) -> ProcessCache:
    """Declare the cache ``name``; two caches never share a name."""
    if name in _caches:
        raise ValueError(f"a process cache named '{name}' is declared already")
    cache = ProcessCache(name, max_entries=max_entries)
    _caches[name] = cache
    return cache


def forget_all() -> None:
    for cache in _caches.values():
        cache.clear()
