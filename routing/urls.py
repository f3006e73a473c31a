from django.urls import path

from routing.api import catalog, policy

urlpatterns = [
    # The hottest path first (routers' decisions): URL resolution tries the
    # patterns in order.
    path("contracts/<slug:code>/routing/route", policy.RouteView.as_view(), name="routing-route"),
    path(
        "contracts/<slug:code>/routing/policy", policy.PolicyView.as_view(), name="routing-policy"
    ),
    path(
        "contracts/<slug:code>/routing/decisions",
        policy.DecisionsView.as_view(),
        name="routing-decisions",
    ),
    path(
        "contracts/<slug:code>/routing/versions",
        policy.VersionsView.as_view(),
        name="routing-versions",
    ),
    path("models", catalog.ModelListView.as_view(), name="models"),
    # <path:...>: names from LiteLLM carry a provider prefix ("xai/grok-3").
    path("models/<path:name>/prices", catalog.ModelPriceListView.as_view(), name="model-prices"),
]
