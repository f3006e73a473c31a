"""Bearer API keys (API.md "Conventions": Auth)."""

from dataclasses import dataclass

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from billing.models import ApiKey, Role


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
    def actor(self) -> str:
        return f"{self.organization_slug}/{self.role}/{self.key_prefix}"

    @classmethod
    def of(cls, key: ApiKey) -> "Principal":
        return cls(key.organization_id, key.organization.slug, key.role, key.prefix)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, key = header.partition(" ")
        if scheme != self.keyword or not key.strip():
            return None
        try:
            api_key = ApiKey.objects.get_from_key(key.strip())
        except ApiKey.DoesNotExist as exc:
            raise exceptions.AuthenticationFailed("unknown or revoked API key") from exc
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed("this API key has expired")
        return (None, Principal.of(api_key))

    def authenticate_header(self, request) -> str:
        return self.keyword


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Describes the bearer API key in the OpenAPI schema."""

    target_class = ApiKeyAuthentication
    name = "bearer"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "an API key (API.md Auth)"}


class HasApiKey(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, Principal)


class IsAdmin(HasApiKey):
    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and request.auth.is_admin
