"""Disputes of outcomes (API.md "Disputes", DESIGN.md "Outcome"): a customer
or an admin opens one; only an admin decides it. Anything outside the
caller's reach answers 404, exactly as if it did not exist."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from billing.models import Contract, Role
from billing.scope import ContractView
from billing.webhooks import dispute_open
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


def _outcome_response(contract: Contract, external_id: str) -> Response:
    # Read as now stored: after a change, with its new status and events.
    outcome = selectors.outcome_get(contract=contract, external_id=external_id)
    return Response(OutcomeSerializer(outcome).data)


class OutcomeDisputeView(ContractView):
    reach = {"POST": (Role.CUSTOMER, Role.ADMIN)}

    @extend_schema(exclude=True)
    def get(self, request: Request, code: str, external_id: str) -> Response:
        """The detail of the outcome whose id ends in "/disputes": this URL
        matches first (ledger/urls.py), and an id may end so."""
        return _outcome_response(self.contract, f"{external_id}/disputes")

    @extend_schema(
        operation_id="outcomes_dispute",
        request=DisputeInSerializer,
        responses=OutcomeSerializer,
        summary="Dispute an accepted outcome (customer or admin)",
    )
    def post(self, request: Request, code: str, external_id: str) -> Response:
        body = DisputeInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        # The vendor's webhook hears of it once it commits (dispute.opened).
        dispute_open(
            contract=self.contract,
            external_id=external_id,
            actor=request.auth.actor,
            reason=body.validated_data["reason"],
        )
        return _outcome_response(self.contract, external_id)


class OutcomeDecisionView(ContractView):
    reach = {"POST": (Role.ADMIN,)}

    @extend_schema(exclude=True)
    def get(self, request: Request, code: str, external_id: str) -> Response:
        """The detail of the outcome whose id ends in "/decision"."""
        return _outcome_response(self.contract, f"{external_id}/decision")

    @extend_schema(
        operation_id="outcomes_decide",
        request=DecisionInSerializer,
        responses=OutcomeSerializer,
        summary="Decide a disputed outcome: accepted or rejected (admin)",
    )
    def post(self, request: Request, code: str, external_id: str) -> Response:
        body = DecisionInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.outcome_status_change(
            contract=self.contract,
            external_id=external_id,
            to_status=body.validated_data["status"],
            actor=request.auth.actor,
            reason=body.validated_data["reason"],
        )
        return _outcome_response(self.contract, external_id)
