"""Contract periods (DESIGN.md "Money and numbers", "Period settlement").

Periods are calendar months, quarters or years in the contract's IANA time
zone; a contract starting or ending mid-period has a shorter first or last
period. Dates are local; ``end`` is exclusive (the first day of the next
period). A record belongs to the period containing its occurred_at in that
time zone.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from billing.models import Contract, Period
from core.localtime import local_midnight_utc

MONTHS_PER_PERIOD = {Period.MONTH: 1, Period.QUARTER: 3, Period.YEAR: 12}


@dataclass(frozen=True, slots=True, order=True)
class ContractPeriod:
    start: date
    end: date

    def contains(self, day: date) -> bool:
        return self.start <= day < self.end


def _calendar_start(day: date, months: int) -> date:
    month0 = (day.month - 1) // months * months
    return date(day.year, month0 + 1, 1)


def _add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    return date(day.year + month0 // 12, month0 % 12 + 1, 1)


def period_label(contract: Contract, start: date) -> str:
    """How people name the period that starts on ``start``: ``2026-10``,
    ``2026-Q4``, ``2026`` (a shorter first period keeps its calendar name)."""
    if contract.period == Period.MONTH:
        return f"{start:%Y-%m}"
    if contract.period == Period.QUARTER:
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return str(start.year)


def period_of(contract: Contract, day: date) -> ContractPeriod:
    months = MONTHS_PER_PERIOD[contract.period]
    start = _calendar_start(day, months)
    end = _add_months(start, months)
    last = contract.ends_on + timedelta(days=1) if contract.ends_on else end
    return ContractPeriod(max(start, contract.starts_on), min(end, last))


def settle_after(contract: Contract, period: ContractPeriod) -> datetime:
    """A period is settled by the first nightly run at or after
    period_end + grace_days (local midnight, as an aware instant)."""
    return local_midnight_utc(period.end + timedelta(days=contract.grace_days), contract.tz)


def periods_due(contract: Contract, as_of: datetime) -> list[ContractPeriod]:
    """Every period of the contract's life that is due by ``as_of``, oldest
    first (an empty period included: it may still carry a fixed fee)."""
    periods = []
    day = contract.starts_on
    while contract.ends_on is None or day <= contract.ends_on:
        period = period_of(contract, day)
        if settle_after(contract, period) > as_of:
            break
        periods.append(period)
        day = period.end
    return periods
