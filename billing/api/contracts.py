"""Thin views over billing selectors and services (API.md "Audit reads",
"Administration")."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import selectors, services
from billing.auth import AdminWrites, IsAdmin
from billing.models import Organization
from billing.scope import ContractView
from billing.serializers import (
    ContractCreatedSerializer,
    ContractCreateSerializer,
    ContractSerializer,
    ContractSummarySerializer,
    OrganizationCreateSerializer,
    OrganizationSerializer,
)
from core.api import ListQuery, keyset_page, page_response, paginated

ORGANIZATION_QUERY = ListQuery()
CONTRACT_QUERY = ListQuery()


class OrganizationListView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        operation_id="organizations_list",
        parameters=ORGANIZATION_QUERY.parameters,
        responses=paginated(OrganizationSerializer),
    )
    def get(self, request: Request) -> Response:
        ORGANIZATION_QUERY.read(request)
        # Admin only, so no scoping: every organization is within reach.
        rows, next_url = keyset_page(request, Organization.objects.all(), field="created_at")
        return page_response(OrganizationSerializer, rows, next_url)

    @extend_schema(
        operation_id="organizations_create",
        request=OrganizationCreateSerializer,
        responses={201: OrganizationSerializer},
    )
    def post(self, request: Request) -> Response:
        given = OrganizationCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        organization = services.organization_create(**given.validated_data)
        return Response(OrganizationSerializer(organization).data, status=status.HTTP_201_CREATED)


class ContractListView(APIView):
    permission_classes = [AdminWrites]

    @extend_schema(
        operation_id="contracts_list",
        parameters=CONTRACT_QUERY.parameters,
        responses=paginated(ContractSummarySerializer),
    )
    def get(self, request: Request) -> Response:
        CONTRACT_QUERY.read(request)
        contracts = selectors.contract_list(principal=request.auth)
        rows, next_url = keyset_page(request, contracts, field="code")
        return page_response(ContractSummarySerializer, rows, next_url)

    @extend_schema(
        operation_id="contracts_create",
        request=ContractCreateSerializer,
        responses={201: ContractCreatedSerializer},
        summary="Create a contract with its terms (admin); shows its webhook secret once",
    )
    def post(self, request: Request) -> Response:
        given = ContractCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        contract = services.contract_create(**given.validated_data)
        # Read back as stored, as GET /contracts/{code} shows it.
        stored = selectors.contract_get(principal=request.auth, code=contract.code)
        detail = selectors.contract_detail(contract=stored)
        return Response(ContractCreatedSerializer(detail).data, status=status.HTTP_201_CREATED)


class ContractDetailView(ContractView):
    @extend_schema(operation_id="contracts_retrieve", responses=ContractSerializer)
    def get(self, request: Request, code: str) -> Response:
        contract = selectors.contract_detail(contract=self.contract)
        return Response(ContractSerializer(contract, context={"principal": request.auth}).data)
