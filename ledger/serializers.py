"""Output shapes of calls and outcomes (API.md "Ingestion": read back)."""

from rest_framework import serializers

from ledger.models import Call, Outcome, OutcomeEvent


class CallSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="llm_model.name")
    tier = serializers.CharField(source="llm_model.tier")
    currency = serializers.SerializerMethodField()

    class Meta:
        model = Call
        fields = [
            "external_id",
            "occurred_at",
            "model",
            "tier",
            "task_type",
            "task_ref",
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "cache_write_1h_tokens",
            "reasoning_tokens",
            "service_tier",
            "reported_cost_usd",
            "computed_cost_usd",
            "cost_usd",
            "charge",
            "currency",
            "latency_ms",
            "success",
            "policy_version",
            "route_id",
            "metadata",
            "ingested_at",
        ]

    def get_currency(self, call: Call) -> str:
        return self.context["contract"].currency


class OutcomeEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = OutcomeEvent
        fields = ["seq", "from_status", "to_status", "actor", "reason", "created_at"]


class OutcomeSerializer(serializers.ModelSerializer):
    status = serializers.CharField()
    events = OutcomeEventSerializer(many=True)

    class Meta:
        model = Outcome
        fields = [
            "external_id",
            "occurred_at",
            "kind",
            "task_type",
            "task_ref",
            "quantity",
            "unit_value",
            "value",
            "unit_fee",
            "fee",
            "status",
            "source",
            "metadata",
            "events",
            "ingested_at",
        ]


class IngestErrorSerializer(serializers.Serializer):
    field = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()


class IngestRejectionSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    external_id = serializers.CharField(allow_null=True)
    errors = IngestErrorSerializer(many=True)


class IngestReportSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = IngestRejectionSerializer(many=True)
