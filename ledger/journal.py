"""The double-entry journal: append-only, every entry balanced (DESIGN.md
"Period settlement"). Accounts are ledger.models.Account."""

from decimal import Decimal

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
