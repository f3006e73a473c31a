from django.urls import path

from ledger import disputes_api as api

urlpatterns = [
    path(
        "contracts/<slug:code>/outcomes/<path:external_id>/disputes",
        api.OutcomeDisputeView.as_view(),
        name="outcome-disputes",
    ),
    path(
        "contracts/<slug:code>/outcomes/<path:external_id>/decision",
        api.OutcomeDecisionView.as_view(),
        name="outcome-decision",
    ),
]
