from django.urls import path

from ledger import api

urlpatterns = [
    path("contracts/<slug:code>/calls", api.CallIngestView.as_view(), name="calls"),
    path("contracts/<slug:code>/outcomes", api.OutcomeIngestView.as_view(), name="outcomes"),
    path(
        "contracts/<slug:code>/outcomes/<path:external_id>",
        api.OutcomeDetailView.as_view(),
        name="outcome-detail",
    ),
]
