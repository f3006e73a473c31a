from django.urls import path

from ledger.otlp_api import OtlpTracesView

urlpatterns = [
    path("contracts/<slug:code>/otlp/v1/traces", OtlpTracesView.as_view(), name="otlp-traces"),
]
