"""Output shape of a contract and its terms (API.md "Administration")."""

from rest_framework import serializers

from billing.models import Contract, FeeScheduleRow, SpendLimit, ValueScheduleRow


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


class ContractSerializer(serializers.ModelSerializer):
    vendor = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    customer = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    baseline_model = serializers.SlugRelatedField(slug_field="name", read_only=True)
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
