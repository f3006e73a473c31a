"""Disputes of outcomes (API.md "Disputes", DESIGN.md "Outcome"): a customer
or an admin opens one; only an admin decides it. Anything outside the
caller's reach answers 404, exactly as if it did not exist."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.auth import Principal
from billing.models import Contract, Role
from billing.selectors import contract_get
from billing.webhooks import dispute_open
from core.errors import NotFound
from ledger import selectors, services
from ledger.models import OutcomeStatus
from ledger.serializers import OutcomeSerializer

# docs/INGESTION.md "Limits": a reason is read back with every outcome it
# is an event of, so it is bounded like metadata.
REASON_MAX_LENGTH = 2000


class DisputeInSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=REASON_MAX_LENGTH)


class DecisionInSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[OutcomeStatus.ACCEPTED, OutcomeStatus.REJECTED])
    reason = serializers.CharField(max_length=REASON_MAX_LENGTH)


def _contract_for(principal: Principal, code: str, roles: tuple[str, ...]) -> Contract:
    """The contract when the caller's role may act on its outcomes; a role
    without that reach gets the same 404 as a stranger."""
    contract = contract_get(principal=principal, code=code)
    if principal.role not in roles:
        raise NotFound(f"no contract '{code}'")
    return contract


def _outcome_response(contract: Contract, external_id: str) -> Response:
    # Re-read: the response shows the status and events as now stored.
    outcome = selectors.outcome_get(contract=contract, external_id=external_id)
    return Response(OutcomeSerializer(outcome).data)


def _outcome_read(request: Request, code: str, external_id: str) -> Response:
    contract = contract_get(principal=request.auth, code=code)
    outcome = selectors.outcome_get(contract=contract, external_id=external_id)
    return Response(OutcomeSerializer(outcome).data)


class OutcomeDisputeView(APIView):
    @extend_schema(exclude=True)
    def get(self, request: Request, code: str, external_id: str) -> Response:
        """The detail of the outcome whose id ends in "/disputes": this URL
        matches first (config/urls.py), and an id may end so."""
        return _outcome_read(request, code, f"{external_id}/disputes")

    @extend_schema(
        operation_id="outcomes_dispute",
        request=DisputeInSerializer,
        responses=OutcomeSerializer,
        summary="Dispute an accepted outcome (customer or admin)",
    )
    def post(self, request: Request, code: str, external_id: str) -> Response:
        contract = _contract_for(request.auth, code, (Role.CUSTOMER, Role.ADMIN))
        body = DisputeInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        # The vendor's webhook hears of it once it commits (dispute.opened).
        dispute_open(
            contract=contract,
            external_id=external_id,
            actor=request.auth.actor,
            reason=body.validated_data["reason"],
        )
        return _outcome_response(contract, external_id)


class OutcomeDecisionView(APIView):
    @extend_schema(exclude=True)
    def get(self, request: Request, code: str, external_id: str) -> Response:
        """The detail of the outcome whose id ends in "/decision"."""
        return _outcome_read(request, code, f"{external_id}/decision")

    @extend_schema(
        operation_id="outcomes_decide",
        request=DecisionInSerializer,
        responses=OutcomeSerializer,
        summary="Decide a disputed outcome: accepted or rejected (admin)",
    )
    def post(self, request: Request, code: str, external_id: str) -> Response:
        contract = _contract_for(request.auth, code, (Role.ADMIN,))
        body = DecisionInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.outcome_status_change(
            contract=contract,
            external_id=external_id,
            to_status=body.validated_data["status"],
            actor=request.auth.actor,
            reason=body.validated_data["reason"],
        )
        return _outcome_response(contract, external_id)
