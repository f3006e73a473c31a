"""Shapes of organizations and contracts on the wire (API.md "Administration").

Input serializers check shape and types only (a Decimal has at most 10
places, a date is a date); the business rules live in billing/services.py.
"""

from rest_framework import serializers

from billing.models import (
    AMOUNT,
    CONTRACT_DEFAULTS,
    RATE,
    Contract,
    FeeScheduleRow,
    Organization,
    Period,
    Role,
    SpendLimit,
    SpendWindow,
    ValueScheduleRow,
)
from billing.services import DAYS_MAX, INTEGER_MAX


class ValueScheduleRowSerializer(serializers.ModelSerializer):
    class Meta:
        model = ValueScheduleRow
        fields = ["kind", "task_type", "unit_value"]


class FeeScheduleRowSerializer(serializers.ModelSerializer):
    class Meta:
        model = FeeScheduleRow
        fields = ["kind", "task_type", "fee"]


class SpendLimitSerializer(serializers.ModelSerializer):
    class Meta:
        model = SpendLimit
        fields = ["window", "amount"]


class RoutingTermsSerializer(serializers.Serializer):
    window_days = serializers.IntegerField(source="routing_window_days")
    min_tasks = serializers.IntegerField(source="routing_min_tasks")
    tolerance = serializers.DecimalField(
        max_digits=20, decimal_places=10, source="routing_tolerance"
    )
    epsilon = serializers.DecimalField(max_digits=20, decimal_places=10, source="routing_epsilon")
    audit = serializers.DecimalField(max_digits=20, decimal_places=10, source="routing_audit")
    value_weight = serializers.DecimalField(
        max_digits=20, decimal_places=10, source="routing_value_weight"
    )
    featurizer = serializers.CharField(source="routing_featurizer")
    feature_length = serializers.IntegerField(source="routing_feature_length")


class ContractSerializer(serializers.ModelSerializer):
    vendor = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    customer = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    baseline_model = serializers.SlugRelatedField(
        slug_field="name", read_only=True, allow_null=True
    )
    routing_models = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    value_schedule = ValueScheduleRowSerializer(many=True, read_only=True)
    fee_schedule = FeeScheduleRowSerializer(many=True, read_only=True)
    spend_limits = SpendLimitSerializer(many=True, read_only=True)
    routing = RoutingTermsSerializer(source="*", read_only=True)

    class Meta:
        model = Contract
        fields = [
            "code",
            "vendor",
            "customer",
            "currency",
            "fx_rate",
            "timezone",
            "period",
            "starts_on",
            "ends_on",
            "markup",
            "fixed_fee",
            "hourly_rate",
            "guarantee_multiple",
            "payout_share",
            "payout_cap",
            "grace_days",
            "min_sample",
            "baseline_model",
            "value_schedule",
            "fee_schedule",
            "spend_limits",
            "webhook_url",
            "routing_models",
            "routing",
            "created_at",
        ]

    def to_representation(self, contract: Contract) -> dict:
        data = super().to_representation(contract)
        principal = self.context.get("principal")
        if principal is not None and principal.role == Role.CUSTOMER:
            # The vendor's alert endpoint may carry a token in its URL.
            data["webhook_url"] = None
        return data


class ContractCreatedSerializer(ContractSerializer):
    """The contract as created: the one answer that shows its webhook
    signing secret (docs/ALERTS.md "Signatures")."""

    webhook_secret = serializers.CharField(read_only=True)

    class Meta(ContractSerializer.Meta):
        fields = [*ContractSerializer.Meta.fields, "webhook_secret"]


class ContractSummarySerializer(serializers.ModelSerializer):
    vendor = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    customer = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Contract
        fields = [
            "code",
            "vendor",
            "customer",
            "currency",
            "period",
            "timezone",
            "starts_on",
            "ends_on",
        ]


class OrganizationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["slug", "name", "created_at"]


class OrganizationCreateSerializer(serializers.Serializer):
    # No model validators here: a taken slug is the service's 409, not a 400.
    slug = serializers.SlugField(max_length=100)
    name = serializers.CharField(max_length=200)


def _amount(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(**AMOUNT, **kwargs)


def _rate(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(**RATE, **kwargs)


def _task_type() -> serializers.CharField:
    """Null means "any task type" (DESIGN.md "Outcome")."""
    return serializers.CharField(max_length=100, allow_null=True, default=None)


class ValueRowInSerializer(serializers.Serializer):
    kind = serializers.CharField(max_length=100)
    task_type = _task_type()
    unit_value = _amount()


class FeeRowInSerializer(serializers.Serializer):
    kind = serializers.CharField(max_length=100)
    task_type = _task_type()
    fee = _amount()


class SpendLimitInSerializer(serializers.Serializer):
    window = serializers.ChoiceField(choices=SpendWindow.choices)
    amount = _amount()


class RoutingTermsInSerializer(serializers.Serializer):
    """Types only; omitted knobs take their defaults and the ranges are
    checked in billing.services.routing_terms_check."""

    window_days = serializers.IntegerField(required=False)
    min_tasks = serializers.IntegerField(required=False)
    tolerance = _rate(required=False)
    epsilon = _rate(required=False)
    audit = _rate(required=False)
    value_weight = _rate(required=False)
    featurizer = serializers.SlugField(max_length=100, required=False)
    feature_length = serializers.IntegerField(required=False, allow_null=True)


class ContractCreateSerializer(serializers.Serializer):
    """The terms of POST /api/v1/contracts, field for field as API.md shows
    them; omitted terms take DESIGN.md's defaults."""

    code = serializers.SlugField(max_length=100)
    vendor = serializers.SlugField(max_length=100)
    customer = serializers.SlugField(max_length=100)
    currency = serializers.CharField(default=CONTRACT_DEFAULTS["currency"])
    fx_rate = _rate(default=CONTRACT_DEFAULTS["fx_rate"])
    timezone = serializers.CharField(max_length=64, default=CONTRACT_DEFAULTS["timezone"])
    period = serializers.ChoiceField(choices=Period.choices, default=CONTRACT_DEFAULTS["period"])
    starts_on = serializers.DateField()
    ends_on = serializers.DateField(allow_null=True, default=None)
    markup = _rate(default=CONTRACT_DEFAULTS["markup"])
    fixed_fee = _amount(default=CONTRACT_DEFAULTS["fixed_fee"])
    hourly_rate = _amount(allow_null=True, default=None)
    guarantee_multiple = _rate(default=CONTRACT_DEFAULTS["guarantee_multiple"])
    payout_share = _rate(default=CONTRACT_DEFAULTS["payout_share"])
    payout_cap = _amount(default=CONTRACT_DEFAULTS["payout_cap"])
    grace_days = serializers.IntegerField(
        min_value=0, max_value=DAYS_MAX, default=CONTRACT_DEFAULTS["grace_days"]
    )
    min_sample = serializers.IntegerField(
        min_value=0, max_value=INTEGER_MAX, default=CONTRACT_DEFAULTS["min_sample"]
    )
    baseline_model = serializers.CharField(max_length=200, allow_null=True, default=None)
    value_schedule = ValueRowInSerializer(many=True, default=list)
    fee_schedule = FeeRowInSerializer(many=True, default=list)
    spend_limits = SpendLimitInSerializer(many=True, default=list)
    webhook_url = serializers.URLField(allow_null=True, default=None)
    routing_models = serializers.ListField(
        child=serializers.CharField(max_length=200), default=list
    )
    routing = RoutingTermsInSerializer(default=dict)
