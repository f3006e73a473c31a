from django.urls import path

from billing.api import alerts, contracts, finance, roi, statements

urlpatterns = [
    path("organizations", contracts.OrganizationListView.as_view(), name="organizations"),
    path("contracts", contracts.ContractListView.as_view(), name="contracts"),
    path("contracts/<slug:code>", contracts.ContractDetailView.as_view(), name="contract-detail"),
    path("reprice", finance.RepriceView.as_view(), name="reprice"),
    path(
        "contracts/<slug:code>/statements",
        statements.StatementListView.as_view(),
        name="statements",
    ),
    path(
        "contracts/<slug:code>/statements/<int:number>",
        statements.StatementDetailView.as_view(),
        name="statement-detail",
    ),
    path(
        "contracts/<slug:code>/statements/<int:number>/digest-input",
        statements.StatementDigestInputView.as_view(),
        name="statement-digest-input",
    ),
    path("contracts/<slug:code>/roi", roi.RoiView.as_view(), name="roi"),
    path("contracts/<slug:code>/alerts", alerts.SpendAlertListView.as_view(), name="alerts"),
    path("contracts/<slug:code>/drift", finance.DriftView.as_view(), name="drift"),
    path("contracts/<slug:code>/journal", finance.JournalView.as_view(), name="journal"),
]
