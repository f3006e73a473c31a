from django.urls import path

from billing import api, finance_api

urlpatterns = [
    path("organizations", api.OrganizationListView.as_view(), name="organizations"),
    path("contracts", api.ContractListView.as_view(), name="contracts"),
    path("contracts/<slug:code>", api.ContractDetailView.as_view(), name="contract-detail"),
    path("reprice", finance_api.RepriceView.as_view(), name="reprice"),
]
