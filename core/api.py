"""HTTP plumbing shared by the apps' thin views: the error format, keyset
pagination and query-parameter parsing (API.md "Conventions")."""

import base64
import math
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db.models import F, Func, IntegerField, Q
from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.views.defaults import page_not_found
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import set_rollback

from core.batch import MAX_DEPTH, nesting_errors
from core.errors import DomainError, ErrorCode, InvalidInput

_DRF_CODES = {
    exceptions.ParseError: ErrorCode.MALFORMED,
    exceptions.AuthenticationFailed: ErrorCode.UNAUTHENTICATED,
    exceptions.NotAuthenticated: ErrorCode.UNAUTHENTICATED,
    exceptions.PermissionDenied: ErrorCode.NOT_FOUND,
    exceptions.NotFound: ErrorCode.NOT_FOUND,
    exceptions.MethodNotAllowed: ErrorCode.METHOD_NOT_ALLOWED,
    exceptions.NotAcceptable: ErrorCode.NOT_ACCEPTABLE,
    exceptions.UnsupportedMediaType: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    exceptions.Throttled: ErrorCode.THROTTLED,
    exceptions.ValidationError: ErrorCode.INVALID,
}


class NoNegotiation(BaseContentNegotiation):
    """For views that always answer JSON themselves: skips matching the
    Accept header against renderers (a tenth of a small request's time)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _unstorable(value) -> ErrorCode | None:
    """Why a decoded JSON body cannot be stored, if it cannot: a number
    beyond a float, or text holding U+0000 (PostgreSQL refuses it)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return ErrorCode.OUT_OF_RANGE
        if isinstance(item, str) and "\x00" in item:
            return ErrorCode.NUL_CHARACTER
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


UNSTORABLE_MESSAGES = {
    ErrorCode.OUT_OF_RANGE: "the body holds a number beyond the range of a 64-bit float",
    ErrorCode.NUL_CHARACTER: "the body holds U+0000, which no stored text can",
}


class BoundedJSONParser(JSONParser):
    """The JSON bodies of every DRF view (docs/INGESTION.md "Limits"): nested
    at most MAX_DEPTH levels, no number beyond a float (``1e400`` reads as
    infinity, which PostgreSQL's JSON cannot hold) and no U+0000."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise InvalidInput(
                f"the body is nested deeper than {MAX_DEPTH} levels", code=ErrorCode.TOO_DEEP
            ) from exc
        if nesting_errors(data, "the body"):
            raise InvalidInput(
                f"the body is nested deeper than {MAX_DEPTH} levels", code=ErrorCode.TOO_DEEP
            )
        storable_check(data)
        return data


def storable_check(value) -> None:
    """Refuse decoded JSON that cannot be stored (_unstorable): the DRF
    parser's rule, for views that decode their bodies themselves."""
    problem = _unstorable(value)
    if problem is not None:
        raise InvalidInput(UNSTORABLE_MESSAGES[problem], code=problem)


def error_response(status_code: int, code: ErrorCode, message: str, details=None) -> Response:
    return Response(
        {"error": {"code": code, "message": message, "details": details}}, status=status_code
    )


def exception_handler(exc, context):
    """Every error leaves as {"error": {"code", "message", "details"}}."""
    if isinstance(exc, RequestDataTooBig):
        return error_response(
            413,
            ErrorCode.BATCH_TOO_LARGE,
            f"the body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes",
        )
    if isinstance(exc, DomainError):
        set_rollback()
        return error_response(exc.status, exc.code, exc.message, exc.details)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, exceptions.PermissionDenied):
        # Outside the caller's reach answers 404, exactly as if it did not exist.
        exc = exceptions.NotFound()
    if not isinstance(exc, exceptions.APIException):
        return None
    set_rollback()
    code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), ErrorCode.ERROR)
    if isinstance(exc, exceptions.ValidationError):
        response = error_response(400, code, "the request is not valid", exc.detail)
    else:
        response = error_response(exc.status_code, code, str(exc.detail))
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        response["Retry-After"] = str(math.ceil(exc.wait))
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        response.status_code = status.HTTP_401_UNAUTHORIZED
        response["WWW-Authenticate"] = "Bearer"
    return response


def rendered_error(exc, *, view, request) -> Response:
    """The error envelope for ``exc``, rendered, for a view that answers
    outside DRF's dispatch; re-raises what the handler does not map."""
    response = exception_handler(exc, {"view": view, "request": request})
    if response is None:
        raise exc
    response.accepted_renderer = JSONRenderer()
    response.accepted_media_type = "application/json"
    response.renderer_context = {}
    return response.render()


def not_found(request, exception=None):
    """handler404: a URL that matches no route answers the API's envelope
    under /api/, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {
                "error": {
                    "code": ErrorCode.NOT_FOUND,
                    "message": f"no such URL: {request.path}",
                    "details": None,
                }
            },
            status=404,
        )
    return page_not_found(request, exception)


def parse_time(value: str, name: str) -> datetime:
    """An RFC 3339 time with an offset; a time without one is rejected, and
    so is one whose instant falls outside the years 1 to 9999 in UTC."""
    try:
        parsed = msgspec.convert(value, datetime)
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"'{name}' is not an RFC 3339 time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise InvalidInput(f"'{name}' needs an offset (Z or +hh:mm): {value!r}")
    try:
        parsed.astimezone(UTC)
    except OverflowError as exc:
        raise InvalidInput(
            f"'{name}' falls outside the years 1 to 9999 in UTC: {value!r}",
            code=ErrorCode.OUT_OF_RANGE,
        ) from exc
    return parsed


def nul_refusing_middleware(get_response):
    """A URL whose path or query holds U+0000 (``%00``) answers 400:
    PostgreSQL text cannot hold it, so no lookup could match, and the driver
    would raise on the query."""

    def middleware(request):
        if "\x00" in request.path or any(
            "\x00" in key or any("\x00" in v for v in values) for key, values in request.GET.lists()
        ):
            if not request.path.startswith("/api/"):
                return HttpResponseBadRequest("the URL holds U+0000")
            return JsonResponse(
                {
                    "error": {
                        "code": ErrorCode.NUL_CHARACTER,
                        "message": "the URL holds U+0000, which no stored text can",
                        "details": None,
                    }
                },
                status=400,
            )
        return get_response(request)

    return middleware


def time_range(request: Request) -> tuple[datetime | None, datetime | None]:
    """``?from=&to=``, half-open: from <= occurred_at < to."""
    params = request.query_params
    start = parse_time(params["from"], "from") if params.get("from") else None
    end = parse_time(params["to"], "to") if params.get("to") else None
    return start, end


DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit", DEFAULT_LIMIT)
    try:
        limit = int(raw)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"'limit' must be a whole number, not {raw!r}") from exc
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"'limit' must be between 1 and {MAX_LIMIT}")
    return limit


def _encode_cursor(values: list) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(values)).decode().rstrip("=")


def _decode_cursor(raw: str) -> list:
    try:
        return msgspec.json.decode(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, msgspec.DecodeError) as exc:
        raise InvalidInput("'cursor' is not a cursor this API issued") from exc


# docs/INGESTION.md "Limits": the JSON of one page's metadata, at most. A
# row's metadata is at most 16 KiB as JSON, but as Python objects it can be
# twenty times that ([{}, {}, ...]): a page of 1,000 such rows would hold
# hundreds of MB. A page stops before the row that would pass the budget
# (it always holds one row), and its `next` URL goes on from there.
PAGE_JSON_BUDGET_BYTES = 1024 * 1024


def _rows_within_budget(queryset, json_field: str, limit: int) -> int:
    """How many of the first ``limit`` rows fit PAGE_JSON_BUDGET_BYTES of
    ``json_field`` (as JSON text), read without the values themselves."""
    sizes = queryset.annotate(
        json_bytes=Func(
            F(json_field),
            template="octet_length(%(expressions)s::text)",
            output_field=IntegerField(),
        )
    ).values_list("json_bytes", flat=True)[:limit]
    total = 0
    for count, size in enumerate(sizes):
        total += size
        if count and total > PAGE_JSON_BUDGET_BYTES:
            return count
    return limit


def keyset_page(request: Request, queryset, *, field: str = "occurred_at", json_field=None):
    """One page of ``queryset`` ordered by (field, id), and the URL of the
    next page (None at the end). Keyset, not offset: stable under inserts and
    as fast on the last page as on the first. ``field`` is a time or text
    column. ``json_field``: a JSON column whose size bounds the page
    (PAGE_JSON_BUDGET_BYTES)."""
    limit = _limit(request)
    queryset = queryset.order_by(field, "id")
    is_time = queryset.model._meta.get_field(field).get_internal_type() == "DateTimeField"
    cursor = request.query_params.get("cursor")
    if cursor:
        decoded = _decode_cursor(cursor)
        if not (isinstance(decoded, list) and len(decoded) == 2 and isinstance(decoded[1], int)):
            raise InvalidInput("'cursor' is not a cursor this API issued")
        after, after_id = decoded
        if is_time:
            after = parse_time(after, "cursor")
        queryset = queryset.filter(
            Q(**{f"{field}__gt": after}) | Q(**{field: after, "id__gt": after_id})
        )
    if json_field is not None:
        limit = _rows_within_budget(queryset, json_field, limit)
    rows = list(queryset[: limit + 1])
    next_url = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        value = getattr(last, field)
        params = request.query_params.copy()
        params["cursor"] = _encode_cursor([value.isoformat() if is_time else value, last.id])
        next_url = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
    return rows, next_url


TIME_RANGE_PARAMETERS = [
    OpenApiParameter("from", str, description="RFC 3339 with an offset; from <= occurred_at"),
    OpenApiParameter("to", str, description="RFC 3339 with an offset; occurred_at < to"),
]
PAGE_PARAMETERS = [
    OpenApiParameter("limit", int, description=f"1 to {MAX_LIMIT}, default {DEFAULT_LIMIT}"),
    OpenApiParameter("cursor", str, description="the cursor of the previous page's next URL"),
]


@dataclass(frozen=True, slots=True)
class Filter:
    """A query parameter that filters a list. ``choices``: the only values it
    takes (an enum), None for free text."""

    name: str
    choices: tuple[str, ...] | None = None
    description: str = ""
    default: str | None = None

    def parameter(self) -> OpenApiParameter:
        return OpenApiParameter(
            self.name,
            str,
            enum=list(self.choices) if self.choices else None,
            description=self.description,
            default=self.default,
        )


@dataclass(frozen=True, slots=True)
class ListQuery:
    """Every query parameter a list endpoint takes, declared once for both
    the request check (``read``) and the OpenAPI schema (``parameters``).

    A filter that cannot mean what the caller asked answers 400, naming what
    is allowed, never an unfiltered or empty 200: a parameter the list does
    not take (a typo), one given twice, a filter given empty, a value outside
    a filter's choices. ``from``, ``to``, ``limit`` and ``cursor`` are
    checked by ``time_range`` and ``keyset_page``; ``format`` (``formats``
    besides json) by the view's export."""

    filters: tuple[Filter, ...] = ()
    time_range: bool = False
    page: bool = True
    formats: tuple[str, ...] = ()

    @property
    def names(self) -> list[str]:
        names = ["from", "to"] if self.time_range else []
        names += [f.name for f in self.filters]
        names += ["limit", "cursor"] if self.page else []
        return names + (["format"] if self.formats else [])

    @property
    def parameters(self) -> list[OpenApiParameter]:
        parameters = list(TIME_RANGE_PARAMETERS) if self.time_range else []
        parameters += [f.parameter() for f in self.filters]
        parameters += PAGE_PARAMETERS if self.page else []
        if self.formats:
            parameters.append(
                OpenApiParameter(
                    "format",
                    str,
                    enum=["json", *self.formats],
                    description=f"{' or '.join(self.formats)}: every matching row, streamed",
                )
            )
        return parameters

    def read(self, request: Request) -> dict[str, str]:
        """The filters given, by name, once every parameter is checked."""
        params = request.query_params
        allowed = self.names
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise InvalidInput(
                f"unknown query parameter {', '.join(map(repr, unknown))}; this list takes "
                f"{', '.join(allowed)}",
                code=ErrorCode.UNKNOWN_PARAMETER,
                details={"unknown": unknown, "allowed": allowed},
            )
        repeated = sorted(name for name in params if len(params.getlist(name)) > 1)
        if repeated:
            raise InvalidInput(
                f"query parameter {', '.join(map(repr, repeated))} given more than once",
                details={name: "given more than once" for name in repeated},
            )
        if self.formats:
            check_choice("format", params.get("format"), ("json", *self.formats))
        given = {}
        for filter_ in self.filters:
            value = params.get(filter_.name)
            if value is None:
                continue
            if value == "":
                raise InvalidInput(
                    f"'{filter_.name}' is empty; leave it out to list every value"
                    + (f", or give one of {', '.join(filter_.choices)}" if filter_.choices else ""),
                    details={filter_.name: list(filter_.choices or ())},
                )
            check_choice(filter_.name, value, filter_.choices)
            given[filter_.name] = value
        return given


def check_choice(name: str, value: str | None, choices: tuple[str, ...] | None) -> None:
    if value is not None and choices is not None and value not in choices:
        raise InvalidInput(
            f"'{name}' must be one of {', '.join(choices)}, not {value!r}",
            details={name: list(choices)},
        )


def paginated(serializer_class):
    """The schema of one page of a list: {"results": [...], "next": url or null}."""
    name = serializer_class.__name__.removesuffix("Serializer")
    return inline_serializer(
        name=f"{name}Page",
        fields={
            "results": serializer_class(many=True),
            "next": serializers.URLField(allow_null=True),
        },
    )


def page_response(serializer_class, rows, next_url, **context) -> Response:
    data = serializer_class(rows, many=True, context=context).data
    return Response({"results": data, "next": next_url})
