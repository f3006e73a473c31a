from django.urls import path

from billing import alerts_api, finance_api, roi_api
from billing import statements_api as api

urlpatterns = [
    path("contracts/<slug:code>/statements", api.StatementListView.as_view(), name="statements"),
    path(
        "contracts/<slug:code>/statements/<int:number>",
        api.StatementDetailView.as_view(),
        name="statement-detail",
    ),
    path(
        "contracts/<slug:code>/statements/<int:number>/digest-input",
        api.StatementDigestInputView.as_view(),
        name="statement-digest-input",
    ),
    path("contracts/<slug:code>/roi", roi_api.RoiView.as_view(), name="roi"),
    path("contracts/<slug:code>/alerts", alerts_api.SpendAlertListView.as_view(), name="alerts"),
    path("contracts/<slug:code>/drift", finance_api.DriftView.as_view(), name="drift"),
    path("contracts/<slug:code>/journal", finance_api.JournalView.as_view(), name="journal"),
]
