"""Statement reads (API.md "Audit reads": statements, digest-input)."""

from decimal import Decimal

from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.models import Statement
from billing.selectors import contract_get, statement_get, statement_list
from core.api import keyset_page, page_response
from core.localtime import local_midnight_utc
from core.money import minor_unit
from ledger.selectors import digest_input_lines

MONEY_TOTALS = (
    "usage_charges",
    "outcome_fees",
    "fixed_fee",
    "charges",
    "value",
    "guaranteed_value",
    "shortfall",
    "payout",
    "cap_remaining",
)
USD_TOTALS = ("cost_usd", "baseline_cost_usd", "savings_usd")


def _fixed(value: Decimal, places: int) -> str:
    return f"{value:.{places}f}"


class StatementSerializer(serializers.ModelSerializer):
    adjusts = serializers.IntegerField(source="adjusts.number", allow_null=True, default=None)
    totals = serializers.SerializerMethodField()
    few_outcomes = serializers.BooleanField()

    class Meta:
        model = Statement
        fields = [
            "number",
            "kind",
            "adjusts",
            "period_start",
            "period_end",
            "currency",
            "totals",
            "lines",
            "outcome_lines",
            "savings_by_task_type",
            "daily",
            "min_sample",
            "few_outcomes",
            "input_digest",
            "issued_at",
        ]

    def get_totals(self, statement: Statement) -> dict:
        """Amounts as strings at the currency's minor unit (USD figures at 2)."""
        places = minor_unit(statement.currency)
        totals: dict = {"calls": statement.calls}
        totals |= {name: _fixed(getattr(statement, name), 2) for name in USD_TOTALS}
        totals |= {name: _fixed(getattr(statement, name), places) for name in MONEY_TOTALS}
        totals["accepted_outcomes"] = statement.accepted_outcomes
        for ratio in ("roi", "efficiency"):
            value = getattr(statement, ratio)
            totals[ratio] = None if value is None else _fixed(value, 4)
        return totals


class StatementListView(APIView):
    @extend_schema(operation_id="statements_list", responses=StatementSerializer(many=True))
    def get(self, request: Request, code: str) -> Response:
        contract = contract_get(principal=request.auth, code=code)
        rows, next_url = keyset_page(
            request, statement_list(contract=contract), time_field="issued_at"
        )
        return page_response(StatementSerializer, rows, next_url)


class StatementDetailView(APIView):
    @extend_schema(operation_id="statements_retrieve", responses=StatementSerializer)
    def get(self, request: Request, code: str, number: int) -> Response:
        contract = contract_get(principal=request.auth, code=code)
        statement = statement_get(contract=contract, number=number)
        return Response(StatementSerializer(statement).data)


class StatementDigestInputView(APIView):
    @extend_schema(
        operation_id="statements_digest_input",
        responses={(200, "text/plain"): OpenApiResponse(description="the canonical digest text")},
    )
    def get(self, request: Request, code: str, number: int):
        contract = contract_get(principal=request.auth, code=code)
        statement = statement_get(contract=contract, number=number)
        lines = digest_input_lines(
            contract=contract,
            start=local_midnight_utc(statement.period_start, contract.tz),
            end=local_midnight_utc(statement.period_end, contract.tz),
        )
        return StreamingHttpResponse(lines, content_type="text/plain; charset=utf-8")
