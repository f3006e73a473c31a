from django.urls import path

from routing import api

urlpatterns = [
    path("models", api.ModelListView.as_view(), name="models"),
    # <path:...>: names from LiteLLM carry a provider prefix ("xai/grok-3").
    path("models/<path:name>/prices", api.ModelPriceListView.as_view(), name="model-prices"),
]
