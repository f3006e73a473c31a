"""``POST /api/v1/contracts/{code}/otlp/v1/traces``: OTLP/HTTP traces, both
encodings (API.md "Ingestion": OpenTelemetry)."""

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceResponse,
)
from rest_framework.request import Request
from rest_framework.response import Response

from billing.scope import VENDOR_OR_ADMIN, ContractView
from core.errors import UnsupportedMediaType
from ledger.ingestion import calls_record
from ledger.otlp import spans_decode, spans_to_calls

PROTOBUF = "application/x-protobuf"


class OtlpTracesView(ContractView):
    reach = {"POST": VENDOR_OR_ADMIN}

    @extend_schema(
        operation_id="otlp_traces_ingest",
        request={PROTOBUF: bytes, "application/json": dict},
        responses={200: OpenApiResponse(description="ExportTraceServiceResponse")},
        summary="OTLP/HTTP traces: each gen_ai span becomes a call",
    )
    def post(self, request: Request, code: str):
        content_type = (request.content_type or "").split(";")[0].strip()
        if content_type not in (PROTOBUF, "application/json"):
            raise UnsupportedMediaType(f"send {PROTOBUF} or application/json")
        spans = spans_decode(
            request.body,
            content_type=content_type,
            content_encoding=request.headers.get("Content-Encoding", ""),
        )
        report = calls_record(contract=self.contract, batch=spans_to_calls(spans))
        rejected = len(report.rejected)
        message = "; ".join(
            f"span {r.external_id}: " + ", ".join(e.message for e in r.errors)
            for r in report.rejected[:20]
        )
        if content_type == PROTOBUF:
            answer = ExportTraceServiceResponse()
            if rejected:
                answer.partial_success.rejected_spans = rejected
                answer.partial_success.error_message = message
            return HttpResponse(answer.SerializeToString(), content_type=PROTOBUF)
        body = report.as_dict()
        if rejected:
            body["partialSuccess"] = {"rejectedSpans": str(rejected), "errorMessage": message}
        return Response(body)
