"""Thin views of routing (API.md "Routing"): policy versions, route
decisions, the logged decisions and the comparison of versions."""

from typing import Annotated

import msgspec
import numpy as np
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from billing.auth import ApiKeyAuthentication, KeyRateThrottle
from billing.scope import VENDOR_OR_ADMIN, ContractView
from billing.selectors import contract_id_get
from core.api import (
    PAGE_PARAMETERS,
    TIME_RANGE_PARAMETERS,
    NoNegotiation,
    keyset_page,
    paginated,
    rendered_error,
    storable_check,
    time_range,
)
from core.errors import ErrorCode, InvalidInput
from ledger.attribution import EARLIEST, LATEST
from ledger.selectors import decision_list
from routing.learning import policy_current
from routing.models import MAX_FEATURES
from routing.policy_selectors import (
    policy_get,
    policy_version_list,
    policy_versions_compare,
)
from routing.serving import route_for_contract


class PolicySerializer(serializers.Serializer):
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    as_of = serializers.DateTimeField()
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()
    parameters = serializers.JSONField()
    model = serializers.JSONField()
    guard = serializers.JSONField()
    task_types = serializers.JSONField()
    default = serializers.JSONField()


class PolicyView(ContractView):
    @extend_schema(
        operation_id="routing_policy",
        parameters=[OpenApiParameter("task_type", str), OpenApiParameter("version", int)],
        responses=PolicySerializer,
        summary="The routing policy in force (latest as_of), or the version named",
    )
    def get(self, request: Request, code: str) -> Response:
        contract = self.contract
        version = request.query_params.get("version")
        if version is None:
            policy = policy_current(contract=contract)
        elif version.isdigit():
            policy = policy_get(contract=contract, version=int(version))
        else:
            raise InvalidInput("'version' is a version number", code=ErrorCode.INVALID_VERSION)
        data = PolicySerializer(policy).data
        task_type = request.query_params.get("task_type")
        if task_type:
            # The entry a route request for it would use (docs/ROUTING.md).
            data["task_types"] = {task_type: policy.task_types.get(task_type, policy.default)}
        return Response(data)


class RouteRequestSerializer(serializers.Serializer):
    """The schema of a route request; the hot path decodes it with msgspec."""

    task_type = serializers.CharField(max_length=100)
    key = serializers.CharField(max_length=1000)
    features = serializers.ListField(
        child=serializers.FloatField(), required=False, max_length=MAX_FEATURES
    )


class RouteDecisionSerializer(serializers.Serializer):
    route_id = serializers.CharField()
    model = serializers.CharField()
    policy_version = serializers.IntegerField()
    probability = serializers.CharField()
    explored = serializers.BooleanField()


class RouteIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    task_type: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    key: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
    features: Annotated[list[float], msgspec.Meta(max_length=MAX_FEATURES)] | None = None


_route_in = msgspec.json.Decoder(RouteIn)
_route_out = msgspec.json.Encoder()


class RouteView(ContractView):
    """The hot path of routers: the body is decoded by msgspec and the answer
    encoded by it too (DRF's parser, serializer and renderer would triple the
    time of the view; docs/ROUTING.md "Benchmark")."""

    content_negotiation_class = NoNegotiation
    # A decision is a write: a customer has no write reach.
    reach = {"POST": VENDOR_OR_ADMIN}
    contract_id: int

    def dispatch(self, request, *args, **kwargs):
        """DRF's request wrapping, negotiation and finalizing cost more than
        the decision itself. A POST is checked by the same classes as every
        other view (the bearer key, its rate limit, the contract within
        reach) and answered directly; errors leave in the same envelope. It
        needs the contract's id only, which this process remembers
        (billing.selectors.contract_id_get): no contract row is read."""
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
            self.contract_id = contract_id_get(
                principal=request.auth, code=kwargs["code"], roles=self.roles("POST")
            )
            return self.post(request, *args, **kwargs)
        except Exception as exc:  # mapped to the envelope, or re-raised
            return rendered_error(exc, view=self, request=request)

    @extend_schema(
        operation_id="routing_route",
        request=RouteRequestSerializer,
        responses=RouteDecisionSerializer,
        summary="The model for one request, stored as a decision: the same key, version "
        "and features give the same model",
    )
    def post(self, request: Request, code: str) -> HttpResponse:
        try:
            given = _route_in.decode(request.body)
        except msgspec.ValidationError as exc:
            raise InvalidInput(str(exc)) from exc
        except msgspec.DecodeError as exc:
            raise InvalidInput("the body is not a JSON object", code=ErrorCode.MALFORMED) from exc
        storable_check([given.task_type, given.key])
        routed = route_for_contract(
            contract_id=self.contract_id,
            task_type=given.task_type,
            key=given.key,
            features=given.features,
        )
        return HttpResponse(
            _route_out.encode(
                {
                    "route_id": routed.route_id,
                    "model": routed.model,
                    "policy_version": routed.policy_version,
                    "probability": routed.probability,
                    "explored": routed.explored,
                }
            ),
            content_type="application/json",
        )


class DecisionSerializer(serializers.Serializer):
    route_id = serializers.CharField()
    decided_at = serializers.DateTimeField()
    task_type = serializers.CharField()
    key = serializers.CharField()
    features = serializers.SerializerMethodField()
    policy_version = serializers.IntegerField()
    model = serializers.CharField(source="llm_model.name")
    probability = serializers.DecimalField(max_digits=11, decimal_places=10)
    explored = serializers.BooleanField()

    def get_features(self, decision) -> list[float] | None:
        if decision.features is None:
            return None
        return np.frombuffer(bytes(decision.features), dtype="<f8").tolist()


class DecisionsView(ContractView):
    reach = {"GET": VENDOR_OR_ADMIN}

    @extend_schema(
        operation_id="routing_decisions",
        parameters=[
            *TIME_RANGE_PARAMETERS,
            OpenApiParameter("task_type", str),
            *PAGE_PARAMETERS,
        ],
        responses=paginated(DecisionSerializer),
        summary="The logged route decisions (vendor and admin)",
    )
    def get(self, request: Request, code: str) -> Response:
        decisions = decision_list(
            contract=self.contract, task_type=request.query_params.get("task_type")
        )
        start, end = time_range(request)
        if start is not None:
            decisions = decisions.filter(decided_at__gte=start)
        if end is not None:
            decisions = decisions.filter(decided_at__lt=end)
        rows, next_url = keyset_page(request, decisions, field="decided_at")
        return Response({"results": DecisionSerializer(rows, many=True).data, "next": next_url})


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
    guard = serializers.JSONField()


class VersionsView(ContractView):
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
        contract = self.contract
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
