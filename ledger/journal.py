"""The double-entry journal: append-only, every entry balanced (DESIGN.md
"Period settlement"). Accounts are ledger.models.Account."""

from decimal import Decimal

from django.db.models import Sum

from billing.models import Contract
from core.errors import InvalidInput
from ledger.models import JournalEntry, JournalPosting


def journal_post(
    *,
    contract: Contract,
    statement_number: int,
    currency: str,
    memo: str,
    postings: list[tuple[str, Decimal]],
) -> JournalEntry:
    """Post one entry; refuses an unbalanced one. Zero postings are left out.
    Call inside the transaction that issues the statement."""
    total = sum((amount for _, amount in postings), Decimal(0))
    if total != 0:
        raise InvalidInput(f"journal entry does not balance: postings sum to {total}")
    entry = JournalEntry.objects.create(
        contract=contract, statement_number=statement_number, currency=currency, memo=memo
    )
    JournalPosting.objects.bulk_create(
        JournalPosting(entry=entry, contract=contract, account=account, amount=amount)
        for account, amount in postings
        if amount != 0
    )
    return entry


def journal_imbalances(*, contract: Contract | None = None) -> dict[int, Decimal]:
    """Entries whose postings do not sum to zero (empty when the journal
    balances), by entry id."""
    postings = JournalPosting.objects.all()
    if contract is not None:
        postings = postings.filter(contract=contract)
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
