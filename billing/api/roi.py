"""The live ROI read (API.md "Audit reads": roi; docs/ROI.md)."""

from decimal import ROUND_HALF_EVEN

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from billing.roi import roi_live
from billing.scope import ContractView
from core.api import Filter, ListQuery, time_range
from core.money import AMOUNT_PLACES
from ledger.roi_selectors import GROUP_BYS

ROI_QUERY = ListQuery(
    filters=(Filter("group_by", choices=tuple(GROUP_BYS), default="day"),),
    time_range=True,
    page=False,
)


def _amount() -> serializers.DecimalField:
    """Live figures are exact amounts, not rounded statement totals."""
    return serializers.DecimalField(
        max_digits=40, decimal_places=AMOUNT_PLACES, rounding=ROUND_HALF_EVEN
    )


def _ratio() -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=30, decimal_places=4, allow_null=True)


class RoiGroupSerializer(serializers.Serializer):
    key = serializers.CharField()
    calls = serializers.IntegerField()
    cost_usd = _amount()
    usage_charges = _amount()
    outcome_fees = _amount()
    charges = _amount()
    value = _amount()
    accepted_outcomes = serializers.IntegerField()
    roi = _ratio()
    baseline_cost_usd = _amount()
    savings_usd = _amount()
    efficiency = _ratio()


class RoiTotalsSerializer(RoiGroupSerializer):
    key = None


class RoiReportSerializer(serializers.Serializer):
    currency = serializers.CharField()
    group_by = serializers.CharField()
    # "from" is a Python keyword: the bounds are added in get_fields.
    fixed_fee_excluded = serializers.BooleanField()
    groups = RoiGroupSerializer(many=True)
    totals = RoiTotalsSerializer()

    def get_fields(self):
        fields = super().get_fields()
        bounds = {
            "from": serializers.DateTimeField(source="start", allow_null=True),
            "to": serializers.DateTimeField(source="end", allow_null=True),
        }
        order = ["currency", "group_by", "from", "to", "fixed_fee_excluded", "groups", "totals"]
        return {name: {**fields, **bounds}[name] for name in order}


class RoiView(ContractView):
    @extend_schema(
        operation_id="roi_retrieve",
        parameters=ROI_QUERY.parameters,
        responses=RoiReportSerializer,
        summary="Live cost, charges, value, ROI and savings per group",
    )
    def get(self, request: Request, code: str) -> Response:
        given = ROI_QUERY.read(request)
        start, end = time_range(request)
        report = roi_live(
            contract=self.contract,
            group_by=given.get("group_by", "day"),
            start=start,
            end=end,
        )
        return Response(RoiReportSerializer(report).data)
