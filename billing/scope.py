"""The contract a ``/contracts/{code}...`` request acts on, resolved and
authorized once for every view (API.md "Conventions": anything outside the
caller's reach answers 404, exactly as if it did not exist)."""

from rest_framework.views import APIView

from billing.models import Contract, Role
from billing.selectors import contract_get

# Who acts on a contract's calls, outcomes and route decisions besides
# reading its figures: its vendor, or an admin (API.md "Ingestion").
VENDOR_OR_ADMIN = (Role.VENDOR, Role.ADMIN)


class ContractView(APIView):
    """A view under ``/contracts/{code}``: once DRF has checked the key, its
    rate and its permissions (``initial``), the contract ``code`` within the
    caller's reach is ``self.contract`` before the handler runs.

    ``reach`` names, per HTTP method, the roles that may use it; a method not
    named is open to every role, each within its own contracts. A role not
    named gets the same 404 as a stranger."""

    reach: dict[str, tuple[str, ...]] = {}
    contract: Contract

    def roles(self, method: str) -> tuple[str, ...] | None:
        # Django answers HEAD with the GET handler.
        return self.reach.get("GET" if method == "HEAD" else method)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        handler = request.method.lower()
        # A method the view does not answer stays a 405, and OPTIONS
        # describes the view without reading any contract.
        if handler != "options" and handler in self.http_method_names and hasattr(self, handler):
            self.contract = contract_get(
                principal=request.auth, code=kwargs["code"], roles=self.roles(request.method)
            )
