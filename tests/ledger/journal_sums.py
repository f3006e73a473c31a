"""Sums over the journal (ledger/journal.py) that the tests check: every
entry balances, and each account holds what DESIGN.md "Period settlement"
books."""

from decimal import Decimal

from django.db.models import Sum

from billing.models import Contract
from ledger.models import JournalPosting


def journal_imbalances(*, contract: Contract) -> dict[int, Decimal]:
    """Entries whose postings do not sum to zero (empty when the journal
    balances), by entry id."""
    postings = JournalPosting.objects.filter(contract=contract)
    sums = postings.values("entry_id").annotate(total=Sum("amount")).exclude(total=0)
    return {row["entry_id"]: row["total"] for row in sums}


def account_balances(*, contract: Contract) -> dict[str, Decimal]:
    rows = (
        JournalPosting.objects.filter(contract=contract)
        .values("account")
        .annotate(total=Sum("amount"))
        .order_by("account")
    )
    return {row["account"]: row["total"] for row in rows}
