"""Bearer API keys (API.md "Conventions": Auth)."""

import hashlib
import time
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling

from billing.models import ApiKey, Role
from core.caches import process_cache


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: an organization acting in one role."""

    organization_id: int
    organization_slug: str
    role: str
    key_prefix: str

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def outcome_sources(self) -> tuple[str, ...]:
        """DESIGN.md "Trust between the parties": a vendor key records vendor
        outcomes only; customer outcomes come from a customer key or an admin."""
        return {Role.VENDOR: ("vendor",), Role.CUSTOMER: ("customer",)}.get(
            self.role, ("vendor", "customer")
        )

    @property
    def actor(self) -> str:
        return f"{self.organization_slug}/{self.role}/{self.key_prefix}"

    @classmethod
    def of(cls, key: ApiKey) -> "Principal":
        return cls(key.organization_id, key.organization.slug, key.role, key.prefix)


# Keys verified in this process in the last API_KEY_CACHE_SECONDS, by the
# SHA-256 of the key: looking a key up and checking its hash is most of the
# CPU of a small request (a route decision, docs/ROUTING.md). A key revoked
# through billing.services.apikey_revoke stops working at once in the
# revoking process and within that many seconds in every other one. Only
# keys that exist are kept, at most 10,000 of them.
_verified = process_cache("verified_api_keys", max_entries=10_000)


def verified_keys_forget() -> None:
    """A key revoked or changed applies at once in this process."""
    _verified.clear()


class AuthFailures:
    """Failed key checks per client address and fixed window, counted in this
    process (like KeyRateThrottle; a deployment of N workers allows up to N
    times the limit). Once an address has failed AUTH_FAILURE_LIMIT times in
    the current AUTH_FAILURE_WINDOW_SECONDS, a key it sends that this process
    has not verified already is answered 429 with Retry-After, without a
    database lookup, until the window ends. Successes do not reset the count:
    a valid key of one's own must not buy more guesses at others'.

    ``counts``: (address, window) -> failures; at most 100,000 addresses,
    the memory an attacker with many addresses can take bounded."""

    counts = process_cache("auth_failures", max_entries=100_000)

    @staticmethod
    def _window() -> tuple[int, float]:
        length = settings.AUTH_FAILURE_WINDOW_SECONDS
        now = time.time()
        return int(now // length), length - now % length

    @classmethod
    def check(cls, address: str) -> None:
        limit = settings.AUTH_FAILURE_LIMIT
        if not limit:
            return
        window, left = cls._window()
        if cls.counts.get((address, window), 0) >= limit:
            raise exceptions.Throttled(
                wait=left, detail="too many failed API keys from this address; retry later"
            )

    @classmethod
    def add(cls, address: str) -> None:
        if not settings.AUTH_FAILURE_LIMIT:
            return
        window, _ = cls._window()
        key = (address, window)
        failures = cls.counts.get(key, 0)
        if not failures:
            # A new entry: forget finished windows first.
            cls.counts.forget_where(lambda old: old[1] < window)
        cls.counts.put(key, failures + 1)


def client_address(request) -> str:
    """The caller's address: REMOTE_ADDR, or with NUM_PROXIES trusted proxies
    in front, the address the outermost of them saw (DRF's rule)."""
    return throttling.BaseThrottle().get_ident(request) or ""


def _verify(key: str, address: str) -> Principal:
    digest = hashlib.sha256(key.encode()).digest()
    now = time.monotonic()
    hit = _verified.get(digest)
    if hit is not None and hit[1] > now:
        return hit[0]
    AuthFailures.check(address)
    try:
        api_key = ApiKey.objects.get_from_key(key)
    except ApiKey.DoesNotExist as exc:
        AuthFailures.add(address)
        raise exceptions.AuthenticationFailed("unknown or revoked API key") from exc
    if api_key.has_expired:
        AuthFailures.add(address)
        raise exceptions.AuthenticationFailed("this API key has expired")
    principal = Principal.of(api_key)
    keep = settings.API_KEY_CACHE_SECONDS
    if api_key.expiry_date is not None:
        keep = min(keep, (api_key.expiry_date - timezone.now()).total_seconds())
    if keep > 0:
        _verified.put(digest, (principal, now + keep))
    return principal


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, key = header.partition(" ")
        if scheme != self.keyword or not key.strip():
            return None
        return (None, _verify(key.strip(), client_address(request)))

    def authenticate_header(self, request) -> str:
        return self.keyword


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Describes the bearer API key in the OpenAPI schema."""

    target_class = ApiKeyAuthentication
    name = "bearer"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "an API key (API.md Auth)"}


class KeyRateThrottle(throttling.BaseThrottle):
    """At most API_RATE_LIMIT_PER_MINUTE requests per API key and fixed
    minute, counted in this process (so a deployment of N workers allows up
    to N times that); over it, 429 with Retry-After. O(1) per request: a
    counter, not a history of timestamps. ``counts``: (key prefix, minute)
    -> requests."""

    counts = process_cache("api_key_requests")

    def allow_request(self, request, view) -> bool:
        limit = settings.API_RATE_LIMIT_PER_MINUTE
        if not limit or not isinstance(request.auth, Principal):
            return True
        minute = int(time.time() // 60)
        key = (request.auth.key_prefix, minute)
        requests = self.counts.get(key, 0) + 1
        if requests == 1:
            # A new minute: forget the finished ones.
            self.counts.forget_where(lambda old: old[1] < minute)
        self.counts.put(key, requests)
        return requests <= limit

    def wait(self) -> float:
        return 60 - time.time() % 60


class HasApiKey(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, Principal)


class IsAdmin(HasApiKey):
    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and request.auth.is_admin


class AdminWrites(HasApiKey):
    """Reads for every key (scoped by the selectors), writes (POST) for admin
    keys; anyone else is refused as PermissionDenied, which answers 404."""

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and (
            request.method != "POST" or request.auth.is_admin
        )
