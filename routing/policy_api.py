"""Thin views of routing policies (API.md "Routing"): the current version,
route decisions and the comparison of versions by realized figures."""

from typing import Annotated

import msgspec
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.auth import ApiKeyAuthentication, KeyRateThrottle
from billing.selectors import contract_get
from core.api import (
    PAGE_PARAMETERS,
    TIME_RANGE_PARAMETERS,
    NoNegotiation,
    keyset_page,
    paginated,
    rendered_error,
    time_range,
)
from core.errors import InvalidInput
from routing.policy_selectors import (
    EARLIEST,
    LATEST,
    policy_current,
    policy_version_list,
    policy_versions_compare,
    route_decide,
)


class PolicySerializer(serializers.Serializer):
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    as_of = serializers.DateTimeField()
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()
    parameters = serializers.JSONField()
    task_types = serializers.JSONField()
    default = serializers.JSONField()


class PolicyView(APIView):
    @extend_schema(
        operation_id="routing_policy",
        parameters=[OpenApiParameter("task_type", str)],
        responses=PolicySerializer,
        summary="The current routing policy version (one task type with ?task_type=)",
    )
    def get(self, request: Request, code: str) -> Response:
        contract = contract_get(principal=request.auth, code=code)
        policy = policy_current(contract=contract)
        data = PolicySerializer(policy).data
        task_type = request.query_params.get("task_type")
        if task_type:
            # The weights a route request for it would use (docs/ROUTING.md).
            data["task_types"] = {task_type: policy.task_types.get(task_type, policy.default)}
        return Response(data)


class RouteRequestSerializer(serializers.Serializer):
    """The schema of a route request; the hot path decodes it with msgspec."""

    task_type = serializers.CharField(max_length=100)
    key = serializers.CharField(max_length=1000)


class RouteIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    task_type: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    key: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]


_route_in = msgspec.json.Decoder(RouteIn)
_route_out = msgspec.json.Encoder()


class RouteView(APIView):
    """The hot path of routers: the body is decoded by msgspec and the answer
    encoded by it too (DRF's parser, serializer and renderer would triple the
    time of the view; docs/ROUTING.md "Benchmark")."""

    content_negotiation_class = NoNegotiation

    def dispatch(self, request, *args, **kwargs):
        """DRF's request wrapping, negotiation and finalizing cost more than
        the decision itself. A POST is checked by the same classes as every
        other view (the bearer key, its rate limit; route_decide checks the
        contract is within reach) and answered directly; errors leave in the
        same envelope."""
        if request.method != "POST":
            return super().dispatch(request, *args, **kwargs)
        try:
            authenticated = ApiKeyAuthentication().authenticate(request)
            if authenticated is None:
                raise exceptions.NotAuthenticated()
            request.auth = authenticated[1]
            throttle = KeyRateThrottle()
            if not throttle.allow_request(request, self):
                raise exceptions.Throttled(wait=throttle.wait())
            return self.post(request, *args, **kwargs)
        except Exception as exc:  # mapped to the envelope, or re-raised
            return rendered_error(exc, view=self, request=request)

    @extend_schema(
        operation_id="routing_route",
        request=RouteRequestSerializer,
        responses=inline_serializer(
            "RouteDecision",
            {"model": serializers.CharField(), "policy_version": serializers.IntegerField()},
        ),
        summary="The model for one request: the same key and version give the same model",
    )
    def post(self, request: Request, code: str) -> HttpResponse:
        try:
            given = _route_in.decode(request.body)
        except msgspec.ValidationError as exc:
            raise InvalidInput(str(exc)) from exc
        except msgspec.DecodeError as exc:
            raise InvalidInput("the body is not a JSON object", code="malformed") from exc
        model, version = route_decide(
            principal=request.auth, code=code, task_type=given.task_type, key=given.key
        )
        return HttpResponse(
            _route_out.encode({"model": model, "policy_version": version}),
            content_type="application/json",
        )


class VersionComparisonSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    as_of = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    tasks = serializers.IntegerField()
    successes = serializers.IntegerField()
    success_rate = serializers.CharField(allow_null=True)
    cost_usd = serializers.CharField()
    attributed_value = serializers.CharField()
    value_per_dollar = serializers.CharField(allow_null=True)


class VersionsView(APIView):
    @extend_schema(
        operation_id="routing_versions",
        parameters=[
            *TIME_RANGE_PARAMETERS,
            *PAGE_PARAMETERS,
        ],
        responses=paginated(VersionComparisonSerializer),
        summary="Policy versions compared by the realized figures of the calls they routed",
    )
    def get(self, request: Request, code: str) -> Response:
        contract = contract_get(principal=request.auth, code=code)
        start, end = time_range(request)
        start, end = start or EARLIEST, end or LATEST
        if start > end:
            raise InvalidInput("'from' must not be after 'to'")
        policies, next_url = keyset_page(
            request, policy_version_list(contract=contract), field="created_at"
        )
        rows = policy_versions_compare(contract=contract, policies=policies, start=start, end=end)
        data = VersionComparisonSerializer(rows, many=True).data
        return Response({"results": data, "next": next_url})
