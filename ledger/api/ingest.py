"""Thin views over ledger services and selectors (API.md "Ingestion",
"Audit reads")."""

import msgspec
from django.db.models import CharField, Value
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from billing.scope import VENDOR_OR_ADMIN, ContractView
from core.api import Filter, ListQuery, keyset_page, page_response, paginated, time_range
from core.batch import MAX_RECORDS, decode_batch
from core.csv_export import ExportNegotiation, csv_response, export_format, queryset_rows
from core.errors import UnsupportedMediaType
from ledger import selectors
from ledger.ingestion import calls_record, outcomes_record
from ledger.models import OutcomeStatus
from ledger.records import CallIn, OutcomeIn
from ledger.serializers import CallSerializer, IngestReportSerializer, OutcomeSerializer

NDJSON = "application/x-ndjson"

# ?format=csv: the JSON fields, each a column (the outcome's events aside).
CALL_CSV_COLUMNS = {name: name for name in CallSerializer.Meta.fields} | {
    "model": "llm_model__name",
    "tier": "llm_model__tier",
}
OUTCOME_CSV_COLUMNS = {name: name for name in OutcomeSerializer.Meta.fields if name != "events"}
CALL_QUERY = ListQuery(
    filters=(
        Filter("model", description="canonical name or alias"),
        Filter("task_type"),
        Filter("task_ref"),
    ),
    time_range=True,
    formats=("csv",),
)
OUTCOME_QUERY = ListQuery(
    filters=(
        Filter("kind"),
        Filter("status", choices=tuple(OutcomeStatus.values)),
        Filter("task_ref"),
    ),
    time_range=True,
    formats=("csv",),
)


def _csv_schema(serializer) -> dict:
    return {
        (200, "application/json"): serializer,
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="every matching row"),
    }


def _batch_schema(record_type) -> dict:
    (_,), components = msgspec.json.schema_components(
        [record_type], ref_template="#/components/schemas/{name}"
    )
    batch = {
        "type": "object",
        "required": ["records"],
        "properties": {
            "records": {
                "type": "array",
                "maxItems": MAX_RECORDS,
                "items": components[record_type.__name__],
            }
        },
    }
    return {"application/json": batch, NDJSON: components[record_type.__name__]}


def _decode(request: Request, record_type):
    content_type = (request.content_type or "").split(";")[0].strip()
    if content_type not in ("application/json", NDJSON):
        raise UnsupportedMediaType(
            f"send application/json or {NDJSON}, not '{content_type or 'nothing'}'"
        )
    return decode_batch(request.body, record_type=record_type, ndjson=content_type == NDJSON)


class CallIngestView(ContractView):
    content_negotiation_class = ExportNegotiation
    reach = {"POST": VENDOR_OR_ADMIN}

    @extend_schema(
        operation_id="calls_ingest",
        request=_batch_schema(CallIn),
        responses=IngestReportSerializer,
        summary="Ingest up to 5,000 calls (JSON or NDJSON)",
    )
    def post(self, request: Request, code: str) -> Response:
        report = calls_record(contract=self.contract, batch=_decode(request, CallIn))
        return Response(report.as_dict())

    @extend_schema(
        operation_id="calls_list",
        parameters=CALL_QUERY.parameters,
        responses=_csv_schema(paginated(CallSerializer)),
    )
    def get(self, request: Request, code: str) -> Response:
        contract = self.contract
        given = CALL_QUERY.read(request)
        start, end = time_range(request)
        calls = selectors.call_list(
            contract=contract, filters=selectors.CallFilters(start=start, end=end, **given)
        )
        if export_format(request, self.content_negotiation_class.formats) == "csv":
            calls = calls.annotate(currency=Value(contract.currency, output_field=CharField()))
            return csv_response(
                filename=f"{contract.code}-calls.csv",
                header=list(CALL_CSV_COLUMNS),
                rows=queryset_rows(
                    calls.order_by("occurred_at", "id"), list(CALL_CSV_COLUMNS.values())
                ),
            )
        rows, next_url = keyset_page(request, calls, json_field="metadata")
        return page_response(CallSerializer, rows, next_url, contract=contract)


class OutcomeIngestView(ContractView):
    content_negotiation_class = ExportNegotiation
    reach = {"POST": VENDOR_OR_ADMIN}

    @extend_schema(
        operation_id="outcomes_ingest",
        request=_batch_schema(OutcomeIn),
        responses=IngestReportSerializer,
        summary="Ingest up to 5,000 outcomes (JSON or NDJSON)",
    )
    def post(self, request: Request, code: str) -> Response:
        report = outcomes_record(
            contract=self.contract,
            batch=_decode(request, OutcomeIn),
            sources=request.auth.outcome_sources,
        )
        return Response(report.as_dict())

    @extend_schema(
        operation_id="outcomes_list",
        parameters=OUTCOME_QUERY.parameters,
        responses=_csv_schema(paginated(OutcomeSerializer)),
    )
    def get(self, request: Request, code: str) -> Response:
        contract = self.contract
        given = OUTCOME_QUERY.read(request)
        start, end = time_range(request)
        outcomes = selectors.outcome_list(
            contract=contract, filters=selectors.OutcomeFilters(start=start, end=end, **given)
        )
        if export_format(request, self.content_negotiation_class.formats) == "csv":
            return csv_response(
                filename=f"{contract.code}-outcomes.csv",
                header=list(OUTCOME_CSV_COLUMNS),
                rows=queryset_rows(
                    outcomes.prefetch_related(None).order_by("occurred_at", "id"),
                    list(OUTCOME_CSV_COLUMNS.values()),
                ),
            )
        rows, next_url = keyset_page(request, outcomes, json_field="metadata")
        return page_response(OutcomeSerializer, rows, next_url)


class OutcomeDetailView(ContractView):
    @extend_schema(operation_id="outcomes_retrieve", responses=OutcomeSerializer)
    def get(self, request: Request, code: str, external_id: str) -> Response:
        outcome = selectors.outcome_get(contract=self.contract, external_id=external_id)
        return Response(OutcomeSerializer(outcome).data)
