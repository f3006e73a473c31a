"""Finance reads and the reprice dry run (API.md "Drift, reprice, journal
(finance)"): thin views over billing.finance and billing.reprice."""

from decimal import ROUND_HALF_EVEN, Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.auth import IsAdmin
from billing.finance import DRIFT_GROUP_BYS, drift_report, journal_entries, journal_statements
from billing.models import Role
from billing.reprice import reprice_dry_run
from billing.scope import ContractView
from billing.selectors import contract_get
from core.api import TIME_RANGE_PARAMETERS, time_range
from core.csv_export import ExportNegotiation, csv_response, export_format
from core.money import AMOUNT_PLACES, minor_unit
from ledger.models import Account
from routing.selectors import model_get
from routing.serializers import PriceInSerializer
from routing.services import LongContextIn, PriceIn


def _amount() -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=40, decimal_places=AMOUNT_PLACES, rounding=ROUND_HALF_EVEN
    )


# --- drift ------------------------------------------------------------------


class DriftCallSerializer(serializers.Serializer):
    external_id = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    model = serializers.CharField()
    provider = serializers.CharField()
    reported_cost_usd = _amount()
    computed_cost_usd = _amount()
    drift_usd = _amount()


class DriftGroupSerializer(serializers.Serializer):
    key = serializers.CharField()
    calls = serializers.IntegerField()
    calls_with_reported_cost = serializers.IntegerField()
    calls_compared = serializers.IntegerField()
    reported_cost_usd = _amount()
    computed_cost_usd = _amount()
    drift_usd = _amount()
    drift_share = serializers.DecimalField(max_digits=30, decimal_places=4, allow_null=True)
    worst_calls = DriftCallSerializer(many=True)


class DriftReportSerializer(serializers.Serializer):
    group_by = serializers.CharField()
    groups = DriftGroupSerializer(many=True)
    totals = DriftGroupSerializer()

    def get_fields(self):
        fields = super().get_fields()
        bounds = {
            "from": serializers.DateTimeField(source="start", allow_null=True),
            "to": serializers.DateTimeField(source="end", allow_null=True),
        }
        return {
            name: {**fields, **bounds}[name]
            for name in ("group_by", "from", "to", "groups", "totals")
        }


DRIFT_CSV_HEADER = [
    "contract",
    "group_by",
    "line",
    "key",
    "calls",
    "calls_with_reported_cost",
    "calls_compared",
    "reported_cost_usd",
    "computed_cost_usd",
    "drift_usd",
    "drift_share",
    "external_id",
    "occurred_at",
    "model",
]


def _drift_csv_rows(code: str, report) -> list[list]:
    """A ``group`` line per group (then ``total``), each followed by its
    worst calls as ``call`` lines (their own reported, computed and drift)."""
    rows = []
    for group in [*report.groups, report.totals]:
        data = DriftGroupSerializer(group).data
        line = "total" if group is report.totals else "group"
        sums = [data[name] for name in DRIFT_CSV_HEADER[4:11]]
        rows.append([code, report.group_by, line, data["key"], *sums, "", "", ""])
        for call in data["worst_calls"]:
            amounts = [call["reported_cost_usd"], call["computed_cost_usd"], call["drift_usd"]]
            where = [call["external_id"], call["occurred_at"], call["model"]]
            rows.append(
                [code, report.group_by, "call", data["key"], "", "", "", *amounts, "", *where]
            )
    return rows


class DriftView(ContractView):
    content_negotiation_class = ExportNegotiation

    @extend_schema(
        operation_id="drift_retrieve",
        parameters=[
            *TIME_RANGE_PARAMETERS,
            OpenApiParameter("group_by", str, enum=DRIFT_GROUP_BYS, default="model"),
            OpenApiParameter("format", str, enum=["json", "csv"]),
        ],
        responses={
            (200, "application/json"): DriftReportSerializer,
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description="one line per group and per worst call"
            ),
        },
        summary="Reported against computed cost per model, provider or period",
    )
    def get(self, request: Request, code: str):
        contract = self.contract
        start, end = time_range(request)
        report = drift_report(
            contract=contract,
            group_by=request.query_params.get("group_by", "model"),
            start=start,
            end=end,
        )
        if export_format(request, self.content_negotiation_class.formats) == "csv":
            return csv_response(
                filename=f"{contract.code}-drift-{report.group_by}.csv",
                header=DRIFT_CSV_HEADER,
                rows=_drift_csv_rows(contract.code, report),
            )
        return Response(DriftReportSerializer(report).data)


# --- journal ----------------------------------------------------------------


class JournalPostingSerializer(serializers.Serializer):
    account = serializers.CharField()
    account_name = serializers.CharField()
    debit = serializers.CharField(allow_null=True)
    credit = serializers.CharField(allow_null=True)


class JournalEntrySerializer(serializers.Serializer):
    statement_number = serializers.IntegerField()
    statement_kind = serializers.CharField()
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    currency = serializers.CharField()
    memo = serializers.CharField()
    created_at = serializers.DateTimeField()
    postings = JournalPostingSerializer(many=True)


class JournalSerializer(serializers.Serializer):
    entries = JournalEntrySerializer(many=True)


def _sides(amount: Decimal, places: int) -> tuple[str | None, str | None]:
    """Debit positive, credit negative (ledger.models.JournalPosting), shown
    as two non-negative columns at the currency's minor unit."""
    text = f"{abs(amount):.{places}f}"
    return (text, None) if amount > 0 else (None, text)


def journal_lines(contract, start, end) -> list[dict]:
    statements = journal_statements(contract=contract, start=start, end=end)
    entries = journal_entries(contract=contract, numbers=list(statements))
    shown = []
    for entry in sorted(entries, key=lambda e: e.statement_number):
        statement = statements[entry.statement_number]
        places = minor_unit(entry.currency)
        postings = []
        for posting in entry.postings.all():
            debit, credit = _sides(posting.amount, places)
            postings.append(
                {
                    "account": posting.account,
                    "account_name": Account(posting.account).label,
                    "debit": debit,
                    "credit": credit,
                }
            )
        shown.append(
            {
                "statement_number": entry.statement_number,
                "statement_kind": statement.kind,
                "period_start": statement.period_start,
                "period_end": statement.period_end,
                "currency": entry.currency,
                "memo": entry.memo,
                "created_at": entry.created_at,
                "postings": postings,
            }
        )
    return shown


JOURNAL_CSV_HEADER = [
    "contract",
    "period_start",
    "period_end",
    "statement_number",
    "statement_kind",
    "account",
    "account_name",
    "debit",
    "credit",
    "currency",
    "memo",
    "created_at",
]


class JournalView(ContractView):
    content_negotiation_class = ExportNegotiation
    reach = {"GET": (Role.ADMIN,)}

    @extend_schema(
        operation_id="journal_retrieve",
        parameters=[
            OpenApiParameter(
                "from", str, description="RFC 3339; entries of periods starting at or after it"
            ),
            OpenApiParameter("to", str, description="RFC 3339; periods starting before it"),
            OpenApiParameter("format", str, enum=["json", "csv"]),
        ],
        responses={
            (200, "application/json"): JournalSerializer,
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description="one line per posting, for a general ledger"
            ),
        },
        summary="Journal entries and postings of the contract's statements (admin)",
    )
    def get(self, request: Request, code: str):
        contract = self.contract
        start, end = time_range(request)
        entries = journal_lines(contract, start, end)
        if export_format(request, self.content_negotiation_class.formats) == "csv":
            return csv_response(
                filename=f"{contract.code}-journal.csv",
                header=JOURNAL_CSV_HEADER,
                rows=(
                    [
                        contract.code,
                        entry["period_start"],
                        entry["period_end"],
                        entry["statement_number"],
                        entry["statement_kind"],
                        posting["account"],
                        posting["account_name"],
                        posting["debit"],
                        posting["credit"],
                        entry["currency"],
                        entry["memo"],
                        entry["created_at"],
                    ]
                    for entry in entries
                    for posting in entry["postings"]
                ),
            )
        return Response(JournalSerializer({"entries": entries}).data)


# --- reprice ----------------------------------------------------------------


class RepriceInSerializer(serializers.Serializer):
    model = serializers.CharField(max_length=200)
    price = PriceInSerializer()
    contracts = serializers.ListField(
        child=serializers.SlugField(max_length=100), required=False, allow_null=True
    )


class PeriodViewSerializer(serializers.Serializer):
    cost_usd = serializers.CharField()
    charges = serializers.CharField()
    value = serializers.CharField()
    value_per_dollar = serializers.CharField(allow_null=True)
    payout = serializers.CharField()


class PeriodRepriceSerializer(serializers.Serializer):
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    settled = serializers.BooleanField()
    calls_repriced = serializers.IntegerField()
    cost_usd_change = _amount()
    charge_change = _amount()
    before = PeriodViewSerializer()
    after = PeriodViewSerializer()


class ContractRepriceSerializer(serializers.Serializer):
    contract = serializers.CharField()
    currency = serializers.CharField()
    periods = PeriodRepriceSerializer(many=True)


class RepriceReportSerializer(serializers.Serializer):
    model = serializers.CharField()
    service_tier = serializers.CharField()
    effective_from = serializers.DateTimeField()
    stored = serializers.BooleanField()
    contracts = ContractRepriceSerializer(many=True)


def price_in(data: dict) -> PriceIn:
    """A validated PriceInSerializer body as the price services take it."""
    data = dict(data)
    long_context = data.pop("long_context")
    return PriceIn(
        per_request_usd=data.pop("per_request"),
        long_context=LongContextIn(**long_context) if long_context else None,
        **data,
    )


def reprice_report_data(report) -> dict:
    """The report as JSON: amounts at the contract currency's minor unit
    (cost in USD at 2), as a statement shows them; changes exact."""
    data = RepriceReportSerializer(report).data
    for contract, shown in zip(report.contracts, data["contracts"], strict=True):
        places = minor_unit(contract.currency)
        for period, period_data in zip(contract.periods, shown["periods"], strict=True):
            for side in ("before", "after"):
                view = getattr(period, side)
                period_data[side] = {
                    "cost_usd": f"{view.cost_usd:.2f}",
                    "charges": f"{view.charges:.{places}f}",
                    "value": f"{view.value:.{places}f}",
                    "value_per_dollar": None
                    if view.value_per_dollar is None
                    else f"{view.value_per_dollar:.4f}",
                    "payout": f"{view.payout:.{places}f}",
                }
    return data


class RepriceView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        operation_id="reprice_dry_run",
        request=RepriceInSerializer,
        responses=RepriceReportSerializer,
        summary="Dry run: what a candidate price row would change, nothing stored (admin)",
    )
    def post(self, request: Request) -> Response:
        body = RepriceInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        model = model_get(name=body.validated_data["model"])
        codes = body.validated_data.get("contracts")
        contracts = None
        if codes is not None:
            contracts = [contract_get(principal=request.auth, code=code) for code in codes]
        report = reprice_dry_run(
            model=model, price=price_in(body.validated_data["price"]), contracts=contracts
        )
        return Response(reprice_report_data(report))
