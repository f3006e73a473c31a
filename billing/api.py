"""Thin views over billing selectors and services (API.md "Audit reads",
"Administration")."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import selectors
from billing.serializers import ContractSerializer, ContractSummarySerializer
from core.api import page_response


class ContractListView(APIView):
    @extend_schema(
        operation_id="contracts_list",
        parameters=[OpenApiParameter("limit", int)],
        responses=ContractSummarySerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        contracts = selectors.contract_list(principal=request.auth).order_by("code")
        return page_response(ContractSummarySerializer, contracts, None)


class ContractDetailView(APIView):
    @extend_schema(operation_id="contracts_retrieve", responses=ContractSerializer)
    def get(self, request: Request, code: str) -> Response:
        contract = selectors.contract_detail(principal=request.auth, code=code)
        return Response(ContractSerializer(contract).data)
