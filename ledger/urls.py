from django.urls import path

from ledger.api import disputes, ingest, otlp

urlpatterns = [
    path("contracts/<slug:code>/calls", ingest.CallIngestView.as_view(), name="calls"),
    path("contracts/<slug:code>/outcomes", ingest.OutcomeIngestView.as_view(), name="outcomes"),
    # An outcome's external id may hold "/": ".../outcomes/<id>/disputes"
    # and ".../decision" are tried before ".../outcomes/<id>".
    path(
        "contracts/<slug:code>/outcomes/<path:external_id>/disputes",
        disputes.OutcomeDisputeView.as_view(),
        name="outcome-disputes",
    ),
    path(
        "contracts/<slug:code>/outcomes/<path:external_id>/decision",
        disputes.OutcomeDecisionView.as_view(),
        name="outcome-decision",
    ),
    path(
        "contracts/<slug:code>/outcomes/<path:external_id>",
        ingest.OutcomeDetailView.as_view(),
        name="outcome-detail",
    ),
    path("contracts/<slug:code>/otlp/v1/traces", otlp.OtlpTracesView.as_view(), name="otlp-traces"),
]
