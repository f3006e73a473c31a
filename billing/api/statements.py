"""Statement reads (API.md "Audit reads": statements, digest-input), as JSON,
as a printable HTML page with charts, and the list as CSV."""

from datetime import timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path

from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.safestring import mark_safe
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from billing import charts
from billing.finance import drift_note, settled_periods_as_of
from billing.models import Statement, StatementKind
from billing.scope import ContractView
from billing.selectors import statement_get, statement_list, statement_superseded_by
from core.api import ListQuery, keyset_page, page_response, paginated
from core.csv_export import ExportNegotiation, csv_response, export_format
from core.errors import Conflict, ErrorCode
from core.localtime import local_midnight_utc
from core.money import minor_unit
from ledger.selectors import digest_input_chunks

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


def totals_shown(figures: dict, currency: str) -> dict:
    """Totals as strings at the currency's minor unit (USD figures at 2),
    ratios at 4 places, counts as integers; ``figures`` maps each total to
    a Decimal, an int, a bool or None (or their JSON strings)."""
    places = minor_unit(currency)

    def fixed(name: str, at: int) -> str | None:
        value = figures.get(name)
        return None if value is None else _fixed(Decimal(value), at)

    totals: dict = {"calls": figures["calls"]}
    totals |= {name: fixed(name, 2) for name in USD_TOTALS}
    totals |= {name: fixed(name, places) for name in MONEY_TOTALS}
    totals["accepted_outcomes"] = figures["accepted_outcomes"]
    totals |= {ratio: fixed(ratio, 4) for ratio in ("roi", "efficiency")}
    totals["tasks"] = figures.get("tasks")
    totals |= {name: fixed(name, places) for name in ("value_ci_low", "value_ci_high")}
    totals["shortfall_within_noise"] = figures.get("shortfall_within_noise")
    return totals


class StatementSerializer(serializers.ModelSerializer):
    adjusts = serializers.IntegerField(source="adjusts.number", allow_null=True, default=None)
    totals = serializers.SerializerMethodField()
    resettled_totals = serializers.SerializerMethodField()
    few_outcomes = serializers.BooleanField()
    cap_bound = serializers.BooleanField()

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
            "resettled_totals",
            "lines",
            "outcome_lines",
            "savings_by_task_type",
            "daily",
            "min_sample",
            "few_outcomes",
            "cap_bound",
            "input_digest",
            "as_of",
            "issued_at",
        ]

    def get_totals(self, statement: Statement) -> dict:
        """The statement's own totals: a settlement's period figures, an
        adjustment's differences (docs/SETTLEMENT.md "Adjustments")."""
        figures = {name: getattr(statement, name) for name in TOTAL_NAMES}
        return totals_shown(figures, statement.currency)

    def get_resettled_totals(self, statement: Statement) -> dict | None:
        """An adjustment's period as re-settled, in absolute figures (null on
        a settlement, whose totals are already those)."""
        if statement.kind != StatementKind.ADJUSTMENT:
            return None
        return totals_shown(statement.period_figures, statement.currency)


# The totals as the page and the CSV show them, in the order of API.md.
TOTALS = (
    ("calls", "Calls"),
    ("cost_usd", "Provider cost"),
    ("usage_charges", "Usage charges"),
    ("outcome_fees", "Outcome fees"),
    ("fixed_fee", "Fixed fee"),
    ("charges", "Charges"),
    ("value", "Value (accepted outcomes)"),
    ("accepted_outcomes", "Accepted outcomes"),
    ("roi", "ROI, (value - charges) / charges"),
    ("guaranteed_value", "Guaranteed value"),
    ("shortfall", "Shortfall"),
    ("payout", "Payout"),
    ("cap_remaining", "Cap remaining"),
    ("baseline_cost_usd", "Baseline cost"),
    ("savings_usd", "Routing savings"),
    ("efficiency", "Efficiency, baseline / cost"),
    ("tasks", "Tasks (outcomes by task_ref)"),
    ("value_ci_low", "Value, 95% interval low"),
    ("value_ci_high", "Value, 95% interval high"),
    ("shortfall_within_noise", "Guaranteed value within the interval"),
)
TOTAL_NAMES = tuple(name for name, _ in TOTALS)
STATEMENT_CSV_FIELDS = ("number", "kind", "adjusts", "period_start", "period_end", "currency")
STATEMENT_CSV_TRAILER = (
    "min_sample",
    "few_outcomes",
    "cap_bound",
    "input_digest",
    "as_of",
    "issued_at",
)
STATEMENT_CSV_HEADER = [
    "contract",
    *STATEMENT_CSV_FIELDS,
    *(name for name, _ in TOTALS),
    *STATEMENT_CSV_TRAILER,
]


def _statement_csv_row(contract_code: str, statement: Statement) -> list:
    """One statement, one row: the JSON fields and totals, same strings."""
    data = StatementSerializer(statement).data
    return [
        contract_code,
        *(data[name] for name in STATEMENT_CSV_FIELDS),
        *(data["totals"][name] for name, _ in TOTALS),
        *(data[name] for name in STATEMENT_CSV_TRAILER),
    ]


STATEMENT_QUERY = ListQuery(formats=("csv",))


class StatementListView(ContractView):
    content_negotiation_class = ExportNegotiation

    @extend_schema(
        operation_id="statements_list",
        parameters=STATEMENT_QUERY.parameters,
        responses={
            (200, "application/json"): paginated(StatementSerializer),
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description="every statement, one row each, with its totals"
            ),
        },
    )
    def get(self, request: Request, code: str):
        contract = self.contract
        STATEMENT_QUERY.read(request)
        statements = statement_list(contract=contract)
        if export_format(request, self.content_negotiation_class.formats) == "csv":
            return csv_response(
                filename=f"{contract.code}-statements.csv",
                header=STATEMENT_CSV_HEADER,
                rows=(
                    _statement_csv_row(contract.code, statement)
                    for statement in statements.order_by("number").iterator(chunk_size=2000)
                ),
            )
        rows, next_url = keyset_page(request, statements, field="issued_at")
        return page_response(StatementSerializer, rows, next_url)


class HtmlNegotiation(ExportNegotiation):
    formats = ("html",)


@cache
def _stylesheet() -> str:
    """The page carries its own CSS, so a saved or mailed copy prints the
    same and nothing is fetched."""
    return Path(finders.find("billing/statement.css")).read_text(encoding="utf-8")


def statement_page(request: HttpRequest, statement: Statement) -> HttpResponse:
    """The printable statement (API.md "Audit reads"); also served to staff
    by the admin. Lines, charts and daily figures show the whole period (as
    re-settled, for an adjustment); the totals are the statement's own."""
    contract = statement.contract
    data = StatementSerializer(statement).data
    totals, resettled = data["totals"], data["resettled_totals"]
    money_unit = {
        name: statement.currency for name in (*MONEY_TOTALS, "value_ci_low", "value_ci_high")
    } | dict.fromkeys(USD_TOTALS, "USD")
    digest_path = reverse(
        "statement-digest-input", kwargs={"code": contract.code, "number": statement.number}
    )
    context = {
        "statement": statement,
        "contract": contract,
        "data": data,
        "period_last_day": statement.period_end - timedelta(days=1),
        "totals": [
            (name, label, totals[name], (resettled or {}).get(name), money_unit.get(name, ""))
            for name, label in TOTALS
        ],
        "period": resettled or totals,
        "terms": {
            name: f"{getattr(contract, name).normalize():f}"
            for name in ("guarantee_multiple", "payout_share", "payout_cap")
        },
        "digest_input_url": request.build_absolute_uri(digest_path),
        "stylesheet": mark_safe(_stylesheet()),
        "cost_value_chart": charts.cost_value_chart(
            daily=statement.daily,
            period_start=statement.period_start,
            period_end=statement.period_end,
            currency=statement.currency,
        ),
        "cost_by_tier_chart": charts.cost_by_tier_chart(lines=statement.lines),
        "drift_note": drift_note(statement=statement),
        "roi_charts": charts.roi_over_time_charts(
            periods=settled_periods_as_of(statement=statement), currency=statement.currency
        ),
        "savings_chart": charts.savings_chart(savings_by_task_type=statement.savings_by_task_type),
    }
    html = render_to_string("billing/statement.html", context, request=request)
    return HttpResponse(html, content_type="text/html; charset=utf-8")


class StatementDetailView(ContractView):
    content_negotiation_class = HtmlNegotiation

    @extend_schema(
        operation_id="statements_retrieve",
        parameters=[OpenApiParameter("format", str, enum=["json", "html"])],
        responses={
            (200, "application/json"): StatementSerializer,
            (200, "text/html"): OpenApiResponse(
                OpenApiTypes.STR, description="a printable page with charts, self-contained"
            ),
        },
    )
    def get(self, request: Request, code: str, number: int):
        statement = statement_get(contract=self.contract, number=number)
        if export_format(request, self.content_negotiation_class.formats) == "html":
            response = statement_page(request, statement)
        else:
            response = Response(StatementSerializer(statement).data)
        patch_vary_headers(response, ["Accept"])
        return response


class TextNegotiation(ExportNegotiation):
    """The digest text answers ``Accept: text/plain``; errors stay JSON."""

    formats = ("text",)


class StatementDigestInputView(ContractView):
    content_negotiation_class = TextNegotiation

    @extend_schema(
        operation_id="statements_digest_input",
        responses={(200, "text/plain"): OpenApiResponse(description="the canonical digest text")},
    )
    def get(self, request: Request, code: str, number: int):
        contract = self.contract
        statement = statement_get(contract=contract, number=number)
        later = statement_superseded_by(statement=statement)
        if later is not None:
            # The text is the period's records as they stand now, which hash
            # to the latest statement's digest, not to this one's.
            raise Conflict(
                f"statement #{number} was superseded by adjustment #{later.number}, whose "
                "digest covers the period as re-settled; read that statement's digest-input",
                code=ErrorCode.SUPERSEDED,
                details={"superseded_by": later.number},
            )
        lines = digest_input_chunks(
            contract=contract,
            start=local_midnight_utc(statement.period_start, contract.tz),
            end=local_midnight_utc(statement.period_end, contract.tz),
        )
        return StreamingHttpResponse(lines, content_type="text/plain; charset=utf-8")
