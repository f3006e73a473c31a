from django.urls import path

from routing import policy_api as api

urlpatterns = [
    path("contracts/<slug:code>/routing/policy", api.PolicyView.as_view(), name="routing-policy"),
    path("contracts/<slug:code>/routing/route", api.RouteView.as_view(), name="routing-route"),
    path(
        "contracts/<slug:code>/routing/decisions",
        api.DecisionsView.as_view(),
        name="routing-decisions",
    ),
    path(
        "contracts/<slug:code>/routing/versions",
        api.VersionsView.as_view(),
        name="routing-versions",
    ),
]
