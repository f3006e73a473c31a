"""Thin views over the catalog and the price book (API.md "Catalog",
"Administration"). Every role reads; only admins write, and to anyone else
a write answers 404 (billing.auth.AdminWrites, core.api's handler)."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.auth import AdminWrites
from core.api import Filter, ListQuery, keyset_page, page_response, paginated
from routing import selectors, services
from routing.models import Tier
from routing.serializers import (
    LlmModelInSerializer,
    LlmModelSerializer,
    PriceInSerializer,
    PriceSerializer,
)

MODEL_QUERY = ListQuery(filters=(Filter("tier", choices=tuple(Tier.values)), Filter("provider")))
PRICE_QUERY = ListQuery()


class ModelListView(APIView):
    permission_classes = [AdminWrites]

    @extend_schema(
        operation_id="models_list",
        parameters=MODEL_QUERY.parameters,
        responses=paginated(LlmModelSerializer),
        summary="The model catalog (every role)",
    )
    def get(self, request: Request) -> Response:
        models = selectors.model_list(**MODEL_QUERY.read(request))
        rows, next_url = keyset_page(request, models, field="name")
        return page_response(LlmModelSerializer, rows, next_url)

    @extend_schema(
        operation_id="models_create",
        request=LlmModelInSerializer,
        responses={201: LlmModelSerializer},
        summary="Add a model to the catalog (admin)",
    )
    def post(self, request: Request) -> Response:
        body = LlmModelInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        model = services.model_create(**body.validated_data)
        created = selectors.model_get(name=model.name)
        return Response(LlmModelSerializer(created).data, status=status.HTTP_201_CREATED)


class ModelPriceListView(APIView):
    permission_classes = [AdminWrites]

    @extend_schema(
        operation_id="model_prices_list",
        parameters=PRICE_QUERY.parameters,
        responses=paginated(PriceSerializer),
        summary="A model's effective-dated price rows, by name or alias (every role)",
    )
    def get(self, request: Request, name: str) -> Response:
        model = selectors.model_get(name=name)
        PRICE_QUERY.read(request)
        prices = selectors.price_list(model=model).select_related("llm_model")
        rows, next_url = keyset_page(request, prices, field="effective_from")
        return page_response(PriceSerializer, rows, next_url)

    @extend_schema(
        operation_id="model_prices_create",
        request=PriceInSerializer,
        responses={201: PriceSerializer},
        summary="Add a price row, USD per million tokens (admin)",
    )
    def post(self, request: Request, name: str) -> Response:
        model = selectors.model_get(name=name)
        body = PriceInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        long_context = data.pop("long_context")
        price = services.price_create(
            model=model,
            per_request_usd=data.pop("per_request"),
            long_context=services.LongContextIn(**long_context) if long_context else None,
            source=f"api:{request.auth.actor}",
            **data,
        )
        return Response(PriceSerializer(price).data, status=status.HTTP_201_CREATED)
