"""Wire shapes of the catalog and the price book (API.md "Catalog",
"Administration"). Amounts travel as strings, USD per million tokens."""

from decimal import Decimal

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from routing.models import PRICE, LlmModel, Price, ServiceTier, Tier


class LlmModelSerializer(serializers.ModelSerializer):
    aliases = serializers.SlugRelatedField(slug_field="alias", many=True, read_only=True)

    class Meta:
        model = LlmModel
        fields = ["name", "provider", "tier", "aliases"]


class LlmModelInSerializer(serializers.Serializer):
    """POST /models. The catalog's rules (unique names, valid tier) are the
    service's; this checks the shape."""

    name = serializers.CharField(trim_whitespace=False)
    provider = serializers.CharField(trim_whitespace=False)
    tier = serializers.ChoiceField(choices=Tier.choices)
    aliases = serializers.ListField(
        child=serializers.CharField(trim_whitespace=False), required=False, default=list
    )


class AwareDateTimeField(serializers.DateTimeField):
    """RFC 3339 with an offset; a time without one is rejected, not read as
    local time (API.md "Conventions")."""

    default_error_messages = {"naive": "give the time with an offset (Z or +hh:mm)"}

    def to_internal_value(self, value):
        try:
            parsed = parse_datetime(value) if isinstance(value, str) else None
        except ValueError:
            # Well-formed but not a time ("12:99:00"): Django raises instead
            # of answering None.
            self.fail("invalid", format="RFC 3339 with an offset")
        if parsed is not None and timezone.is_naive(parsed):
            self.fail("naive")
        return super().to_internal_value(value)


def _amount(**kwargs) -> serializers.DecimalField:
    # Precision and sign are the service's rules (routing.services.price_errors);
    # the field only reads the number.
    return serializers.DecimalField(max_digits=None, decimal_places=None, **kwargs)


def _optional_amount() -> serializers.DecimalField:
    return _amount(required=False, allow_null=True, default=None)


class LongContextInSerializer(serializers.Serializer):
    input = _amount()
    output = _amount()
    cache_read = _optional_amount()
    cache_write = _optional_amount()
    cache_write_1h = _optional_amount()


class PriceInSerializer(serializers.Serializer):
    """POST /models/{name}/prices: USD per million tokens; ``per_request``
    in USD per call; a null cache price equals the input price."""

    effective_from = AwareDateTimeField()
    service_tier = serializers.ChoiceField(
        choices=ServiceTier.choices, required=False, default=ServiceTier.STANDARD
    )
    input = _amount()
    output = _amount()
    cache_read = _optional_amount()
    cache_write = _optional_amount()
    cache_write_1h = _optional_amount()
    per_request = _amount(required=False, default=Decimal(0))
    # A bigint column.
    long_context_threshold = serializers.IntegerField(
        max_value=2**63 - 1, required=False, allow_null=True, default=None
    )
    long_context = LongContextInSerializer(required=False, allow_null=True, default=None)


def _price_out(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(**PRICE, read_only=True, **kwargs)


class LongContextSerializer(serializers.Serializer):
    input = _price_out(source="long_context_input")
    output = _price_out(source="long_context_output")
    cache_read = _price_out(source="long_context_cache_read", allow_null=True)
    cache_write = _price_out(source="long_context_cache_write", allow_null=True)
    cache_write_1h = _price_out(source="long_context_cache_write_1h", allow_null=True)


class PriceSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="llm_model.name")
    per_request = _price_out(source="per_request_usd")
    long_context = serializers.SerializerMethodField()

    class Meta:
        model = Price
        fields = [
            "model",
            "service_tier",
            "effective_from",
            "input",
            "output",
            "cache_read",
            "cache_write",
            "cache_write_1h",
            "per_request",
            "long_context_threshold",
            "long_context",
            "source",
            "created_at",
        ]

    @extend_schema_field(LongContextSerializer(allow_null=True))
    def get_long_context(self, price: Price) -> dict | None:
        if price.long_context_threshold is None:
            return None
        return LongContextSerializer(price).data
