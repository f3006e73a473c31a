"""The routing admin: the catalog and price book (catalog.py), policy
versions and route decisions (policies.py). Django's admin autodiscovery
imports this package; importing the modules registers their pages."""

from routing.admin import catalog, policies  # noqa: F401
