"""The billing admin: organizations, keys, contracts (contracts.py), spend
alerts (alerts.py), statements and their printable page (statements.py).
Django's admin autodiscovery imports this package; importing the modules
registers their pages."""

from billing.admin import alerts, contracts, statements  # noqa: F401
