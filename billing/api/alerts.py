"""Spend alerts of a contract (DESIGN.md "Spend limits and alerts"): every
role within reach reads them."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from billing.alerts import spend_alert_list
from billing.models import SpendAlert
from billing.scope import ContractView
from core.api import ListQuery, keyset_page, page_response, paginated


class SpendAlertSerializer(serializers.ModelSerializer):
    limit = serializers.DecimalField(max_digits=30, decimal_places=10, source="limit_amount")
    currency = serializers.CharField(source="contract.currency")

    class Meta:
        model = SpendAlert
        fields = [
            "window",
            "window_start",
            "threshold_percent",
            "limit",
            "charges",
            "currency",
            "created_at",
            "delivered_at",
            "attempts",
            "last_error",
        ]


ALERT_QUERY = ListQuery()


class SpendAlertListView(ContractView):
    @extend_schema(
        operation_id="alerts_list",
        parameters=ALERT_QUERY.parameters,
        responses=paginated(SpendAlertSerializer),
        summary="Spend alerts: one per (window, threshold) crossed",
    )
    def get(self, request: Request, code: str) -> Response:
        ALERT_QUERY.read(request)
        alerts = spend_alert_list(contract=self.contract).select_related("contract")
        rows, next_url = keyset_page(request, alerts, field="created_at")
        return page_response(SpendAlertSerializer, rows, next_url)
