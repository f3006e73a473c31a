"""Writes of organizations, API keys and contracts (API.md "Administration",
"Operations"; DESIGN.md "Who uses it").

A contract's terms are validated here, once, for every way in (the REST API,
the Django admin, management commands), and written in one transaction.
"""

import re
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import TypedDict

from django.db import IntegrityError, transaction

from billing.auth import verified_keys_forget
from billing.models import (
    CONTRACT_DEFAULTS,
    ApiKey,
    Contract,
    FeeScheduleRow,
    Organization,
    Role,
    SpendLimit,
    ValueScheduleRow,
    timezone_error,
)
from core.batch import FieldError
from core.errors import Conflict, ErrorCode, InvalidInput
from routing.models import FEATURIZERS, MAX_FEATURES, LlmModel, Tier
from routing.selectors import models_named

UNIQUE_VIOLATION = "23505"
ISO_4217_SHAPE = re.compile(r"[A-Z]{3}")
KEY_NAME_MAX = ApiKey._meta.get_field("name").max_length
NOT_NEGATIVE_TERMS = ("markup", "fixed_fee", "hourly_rate", "guarantee_multiple", "payout_cap")


class ValueRow(TypedDict):
    kind: str
    task_type: str | None
    unit_value: Decimal


class FeeRow(TypedDict):
    kind: str
    task_type: str | None
    fee: Decimal


class SpendLimitRow(TypedDict):
    window: str
    amount: Decimal


class RoutingTerms(TypedDict, total=False):
    """DESIGN.md "Routing (learned from the ledger's own outcomes)": the
    learning knobs of one contract; omitted knobs take DEFAULT_ROUTING's."""

    window_days: int
    min_tasks: int
    tolerance: Decimal
    epsilon: Decimal
    audit: Decimal
    value_weight: Decimal
    featurizer: str
    feature_length: int | None


DEFAULT_ROUTING = RoutingTerms(
    **{
        name: CONTRACT_DEFAULTS[f"routing_{name}"]
        for name in RoutingTerms.__annotations__
        if name != "feature_length"
    },
    # None: the featurizer's own length (routing_terms_resolve), so that a
    # vendor's own featurizer must name its length.
    feature_length=None,
)
# Integer terms are stored as PostgreSQL integers; day counts stay within
# ten years so that date arithmetic cannot overflow (docs/INGESTION.md "Limits").
INTEGER_MAX = 2**31 - 1
DAYS_MAX = 3650


def _raise_if_any(problems: list[FieldError]) -> None:
    """One 400 for all problems: the first one's code and message on top, every
    problem in ``details`` so a client fixes them in one round trip."""
    if problems:
        first = problems[0]
        raise InvalidInput(first.message, code=first.code, details=[p.as_dict() for p in problems])


def _is_unique_violation(exc: IntegrityError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) == UNIQUE_VIOLATION


def organization_create(*, slug: str, name: str) -> Organization:
    try:
        with transaction.atomic():
            return Organization.objects.create(slug=slug, name=name)
    except IntegrityError as exc:
        if _is_unique_violation(exc):
            raise Conflict(f"an organization '{slug}' already exists") from exc
        raise


def apikey_create(*, organization: Organization, role: str, name: str) -> tuple[ApiKey, str]:
    """A new key; the secret is returned here once and only its hash is stored
    (API.md "Conventions": Auth)."""
    problems = []
    if role not in Role.values:
        problems.append(
            FieldError(
                "role", ErrorCode.INVALID_ROLE, f"'{role}' is not a role ({', '.join(Role.values)})"
            )
        )
    if not name or len(name) > KEY_NAME_MAX:
        problems.append(
            FieldError(
                "name", ErrorCode.INVALID_NAME, f"a key name has 1 to {KEY_NAME_MAX} characters"
            )
        )
    _raise_if_any(problems)
    return ApiKey.objects.create_key(organization=organization, role=role, name=name)


def apikey_revoke(*, key: ApiKey) -> ApiKey:
    """Revocation is final (the library refuses to un-revoke); revoking twice
    is harmless."""
    key.revoked = True
    key.save(update_fields=["revoked"])
    verified_keys_forget()
    return key


def _organizations(problems: list[FieldError], *, vendor: str, customer: str) -> dict[str, int]:
    found = dict(Organization.objects.filter(slug__in=[vendor, customer]).values_list("slug", "id"))
    for field, slug in (("vendor", vendor), ("customer", customer)):
        if slug not in found:
            problems.append(
                FieldError(field, ErrorCode.UNKNOWN_ORGANIZATION, f"no organization '{slug}'")
            )
    return found


def _model(problems: list[FieldError], *, field: str, name: str) -> LlmModel | None:
    model = models_named(name=name).first()
    if model is None:
        problems.append(
            FieldError(field, ErrorCode.UNKNOWN_MODEL, f"no model or alias '{name}' in the catalog")
        )
    return model


def _check_money_terms(
    problems: list[FieldError],
    *,
    currency: str,
    fx_rate: Decimal,
    amounts: dict[str, Decimal | None],
    payout_share: Decimal,
) -> None:
    """DESIGN.md "Money and numbers": one ISO 4217 currency; prices are in USD,
    so a USD contract converts at exactly 1."""
    if not ISO_4217_SHAPE.fullmatch(currency):
        problems.append(
            FieldError(
                "currency",
                ErrorCode.INVALID_CURRENCY,
                f"'{currency}' is not an ISO 4217 code (three capital letters)",
            )
        )
    if fx_rate <= 0:
        problems.append(FieldError("fx_rate", ErrorCode.INVALID_FX_RATE, "fx_rate must be above 0"))
    elif currency == "USD" and fx_rate != 1:
        problems.append(
            FieldError(
                "fx_rate",
                ErrorCode.INVALID_FX_RATE,
                "a USD contract has fx_rate 1 (prices are USD)",
            )
        )
    for field, amount in amounts.items():
        if amount is not None and amount < 0:
            problems.append(
                FieldError(field, ErrorCode.NEGATIVE_AMOUNT, f"{field} cannot be negative")
            )
    if not 0 <= payout_share <= 1:
        problems.append(
            FieldError(
                "payout_share", ErrorCode.INVALID_PAYOUT_SHARE, "payout_share is between 0 and 1"
            )
        )


def contract_terms_check(
    *,
    vendor_id: int | None,
    customer_id: int | None,
    currency: str,
    fx_rate: Decimal,
    timezone: str,
    starts_on: date,
    ends_on: date | None,
    amounts: dict[str, Decimal | None],
    payout_share: Decimal,
    baseline_model: LlmModel | None,
) -> list[FieldError]:
    """The contract-level rules, shared by contract_create and the admin form."""
    problems: list[FieldError] = []
    if vendor_id is not None and vendor_id == customer_id:
        problems.append(
            FieldError(
                "customer",
                ErrorCode.SAME_VENDOR_AND_CUSTOMER,
                "the vendor cannot be its own customer",
            )
        )
    _check_money_terms(
        problems, currency=currency, fx_rate=fx_rate, amounts=amounts, payout_share=payout_share
    )
    _check_calendar(problems, timezone=timezone, starts_on=starts_on, ends_on=ends_on)
    _check_baseline(problems, baseline_model)
    return problems


def _check_calendar(
    problems: list[FieldError], *, timezone: str, starts_on: date, ends_on: date | None
) -> None:
    """DESIGN.md "Money and numbers": periods are cut in an IANA time zone."""
    error = timezone_error(timezone)
    if error is not None:
        problems.append(FieldError("timezone", ErrorCode.UNKNOWN_TIMEZONE, error))
    if ends_on is not None and ends_on < starts_on:
        problems.append(
            FieldError("ends_on", ErrorCode.ENDS_BEFORE_START, "ends_on is on or after starts_on")
        )


def _check_baseline(problems: list[FieldError], baseline_model: LlmModel | None) -> None:
    """DESIGN.md "Routing savings": the baseline is a frontier model."""
    if baseline_model is not None and baseline_model.tier != Tier.FRONTIER:
        problems.append(
            FieldError(
                "baseline_model",
                ErrorCode.BASELINE_NOT_FRONTIER,
                f"the baseline model '{baseline_model.name}' is {baseline_model.tier}, "
                "not frontier",
            )
        )


def _check_unique(problems: list[FieldError], field: str, keys: list) -> None:
    seen = set()
    for index, key in enumerate(keys):
        if key in seen:
            problems.append(
                FieldError(
                    f"{field}[{index}]", ErrorCode.DUPLICATE_ROW, f"{key} appears twice in {field}"
                )
            )
        seen.add(key)


def _check_schedules(
    problems: list[FieldError],
    *,
    value_schedule: Sequence[ValueRow],
    fee_schedule: Sequence[FeeRow],
    spend_limits: Sequence[SpendLimitRow],
) -> None:
    """DESIGN.md "Outcome", "Charges", "Spend limits": one row per (kind,
    task_type) and per window; values and fees not negative, limits above 0."""
    _check_unique(problems, "value_schedule", [(r["kind"], r["task_type"]) for r in value_schedule])
    _check_unique(problems, "fee_schedule", [(r["kind"], r["task_type"]) for r in fee_schedule])
    _check_unique(problems, "spend_limits", [r["window"] for r in spend_limits])
    for index, row in enumerate(value_schedule):
        if row["unit_value"] < 0:
            problems.append(
                FieldError(f"value_schedule[{index}]", ErrorCode.NEGATIVE_AMOUNT, "unit_value < 0")
            )
    for index, row in enumerate(fee_schedule):
        if row["fee"] < 0:
            problems.append(
                FieldError(f"fee_schedule[{index}]", ErrorCode.NEGATIVE_AMOUNT, "fee < 0")
            )
    for index, row in enumerate(spend_limits):
        if row["amount"] <= 0:
            problems.append(
                FieldError(
                    f"spend_limits[{index}]", ErrorCode.INVALID_SPEND_LIMIT, "a limit is above 0"
                )
            )


def routing_terms_resolve(routing: RoutingTerms) -> RoutingTerms:
    """The full terms: omitted knobs take the defaults; a shipped featurizer
    takes its own length when none is given."""
    terms = RoutingTerms(**(DEFAULT_ROUTING | routing))
    if terms["feature_length"] is None:
        terms["feature_length"] = FEATURIZERS.get(terms["featurizer"])
    return terms


def routing_terms_check(routing: RoutingTerms) -> list[FieldError]:
    """DESIGN.md "Learning (nightly)": the routing terms of a contract, as
    resolved by routing_terms_resolve."""
    problems = []
    if not 1 <= routing["window_days"] <= DAYS_MAX:
        problems.append(
            FieldError(
                "routing.window_days",
                ErrorCode.OUT_OF_RANGE,
                f"window_days is between 1 and {DAYS_MAX}",
            )
        )
    if not 0 <= routing["min_tasks"] <= INTEGER_MAX:
        problems.append(
            FieldError(
                "routing.min_tasks",
                ErrorCode.OUT_OF_RANGE,
                f"min_tasks is between 0 and {INTEGER_MAX}",
            )
        )
    for name in ("tolerance", "value_weight"):
        if routing[name] < 0:
            problems.append(FieldError(f"routing.{name}", ErrorCode.NEGATIVE_AMOUNT, f"{name} < 0"))
    for name in ("epsilon", "audit"):
        if not 0 <= routing[name] <= 1:
            problems.append(
                FieldError(f"routing.{name}", ErrorCode.INVALID_SHARE, f"{name} is between 0 and 1")
            )
    shares_valid = all(0 <= routing[name] <= 1 for name in ("epsilon", "audit"))
    if shares_valid and routing["epsilon"] + routing["audit"] > 1:
        problems.append(
            FieldError(
                "routing.audit", ErrorCode.INVALID_SHARE, "epsilon + audit must not exceed 1"
            )
        )
    shipped = FEATURIZERS.get(routing["featurizer"])
    length = routing["feature_length"]
    if length is None:
        problems.append(
            FieldError(
                "routing.feature_length",
                ErrorCode.REQUIRED,
                f"featurizer '{routing['featurizer']}' is not one the client package ships "
                f"({', '.join(sorted(FEATURIZERS))}): give its feature_length",
            )
        )
    elif not 1 <= length <= MAX_FEATURES:
        problems.append(
            FieldError(
                "routing.feature_length",
                ErrorCode.OUT_OF_RANGE,
                f"feature_length is between 1 and {MAX_FEATURES}",
            )
        )
    elif shipped is not None and length != shipped:
        problems.append(
            FieldError(
                "routing.feature_length",
                ErrorCode.INVALID_FEATURE_LENGTH,
                f"featurizer '{routing['featurizer']}' gives {shipped} features, not {length}",
            )
        )
    return problems


def contract_create(
    *,
    code: str,
    vendor: str,
    customer: str,
    currency: str = CONTRACT_DEFAULTS["currency"],
    fx_rate: Decimal = CONTRACT_DEFAULTS["fx_rate"],
    timezone: str = CONTRACT_DEFAULTS["timezone"],
    period: str = CONTRACT_DEFAULTS["period"],
    starts_on: date,
    ends_on: date | None = None,
    markup: Decimal = CONTRACT_DEFAULTS["markup"],
    fixed_fee: Decimal = CONTRACT_DEFAULTS["fixed_fee"],
    hourly_rate: Decimal | None = None,
    guarantee_multiple: Decimal = CONTRACT_DEFAULTS["guarantee_multiple"],
    payout_share: Decimal = CONTRACT_DEFAULTS["payout_share"],
    payout_cap: Decimal = CONTRACT_DEFAULTS["payout_cap"],
    grace_days: int = CONTRACT_DEFAULTS["grace_days"],
    min_sample: int = CONTRACT_DEFAULTS["min_sample"],
    baseline_model: str | None = None,
    value_schedule: Sequence[ValueRow] = (),
    fee_schedule: Sequence[FeeRow] = (),
    spend_limits: Sequence[SpendLimitRow] = (),
    webhook_url: str | None = None,
    routing_models: Sequence[str] = (),
    routing: RoutingTerms = DEFAULT_ROUTING,
) -> Contract:
    """A contract with its schedules, from terms as API.md writes them:
    organizations by slug, models by name or alias. Every problem is reported
    at once (InvalidInput); a taken code is a Conflict."""
    problems: list[FieldError] = []
    organizations = _organizations(problems, vendor=vendor, customer=customer)
    baseline = (
        _model(problems, field="baseline_model", name=baseline_model) if baseline_model else None
    )
    candidates = [
        _model(problems, field=f"routing_models[{index}]", name=name)
        for index, name in enumerate(routing_models)
    ]
    problems += contract_terms_check(
        vendor_id=organizations.get(vendor),
        customer_id=organizations.get(customer),
        currency=currency,
        fx_rate=fx_rate,
        timezone=timezone,
        starts_on=starts_on,
        ends_on=ends_on,
        amounts=dict(
            zip(
                NOT_NEGATIVE_TERMS,
                (markup, fixed_fee, hourly_rate, guarantee_multiple, payout_cap),
                strict=True,
            )
        ),
        payout_share=payout_share,
        baseline_model=baseline,
    )
    _check_schedules(
        problems,
        value_schedule=value_schedule,
        fee_schedule=fee_schedule,
        spend_limits=spend_limits,
    )
    routing = routing_terms_resolve(routing)
    problems += routing_terms_check(routing)
    _raise_if_any(problems)

    with transaction.atomic():
        try:
            with transaction.atomic():
                contract = Contract.objects.create(
                    code=code,
                    vendor_id=organizations[vendor],
                    customer_id=organizations[customer],
                    currency=currency,
                    fx_rate=fx_rate,
                    timezone=timezone,
                    period=period,
                    starts_on=starts_on,
                    ends_on=ends_on,
                    markup=markup,
                    fixed_fee=fixed_fee,
                    hourly_rate=hourly_rate,
                    guarantee_multiple=guarantee_multiple,
                    payout_share=payout_share,
                    payout_cap=payout_cap,
                    grace_days=grace_days,
                    min_sample=min_sample,
                    baseline_model=baseline,
                    webhook_url=webhook_url,
                    **{f"routing_{name}": value for name, value in routing.items()},
                )
        except IntegrityError as exc:
            if _is_unique_violation(exc):
                raise Conflict(f"a contract '{code}' already exists") from exc
            raise
        ValueScheduleRow.objects.bulk_create(
            ValueScheduleRow(contract=contract, **row) for row in value_schedule
        )
        FeeScheduleRow.objects.bulk_create(
            FeeScheduleRow(contract=contract, **row) for row in fee_schedule
        )
        SpendLimit.objects.bulk_create(SpendLimit(contract=contract, **row) for row in spend_limits)
        contract.routing_models.set(candidates)
    return contract


# --- a stored contract's open terms -------------------------------------------
# What may change once a contract exists (docs/ADMIN.md "What the admin may
# still edit"); every other term is fixed. The admin's contract page checks
# with these functions and writes through contract_create and contract_update.


def contract_check(
    *, contract: Contract, ends_on: date | None, routing: RoutingTerms
) -> list[FieldError]:
    """contract_create's rules, the schedules' apart (schedules_check), on
    ``contract``'s fixed terms with ``ends_on`` and the ``routing`` terms.
    ``contract`` is a stored contract being edited, or an unsaved one
    holding the terms of a new contract (the admin's add page)."""
    problems = contract_terms_check(
        vendor_id=contract.vendor_id,
        customer_id=contract.customer_id,
        currency=contract.currency,
        fx_rate=contract.fx_rate,
        timezone=contract.timezone,
        starts_on=contract.starts_on,
        ends_on=ends_on,
        amounts={name: getattr(contract, name) for name in NOT_NEGATIVE_TERMS},
        payout_share=contract.payout_share,
        baseline_model=contract.baseline_model,
    )
    return problems + routing_terms_check(routing_terms_resolve(routing))


def schedules_check(
    *,
    value_schedule: Sequence[ValueRow] = (),
    fee_schedule: Sequence[FeeRow] = (),
    spend_limits: Sequence[SpendLimitRow] = (),
) -> list[FieldError]:
    """contract_create's rules on schedules, for a page that checks one
    schedule at a time."""
    problems: list[FieldError] = []
    _check_schedules(
        problems,
        value_schedule=value_schedule,
        fee_schedule=fee_schedule,
        spend_limits=spend_limits,
    )
    return problems


def _schedule_replace(rows, new: Sequence[dict], *, key: tuple[str, ...]) -> None:
    """Make ``rows`` (a contract's related rows) exactly ``new``: a stored row
    whose ``key`` stays is updated in place, the others are deleted, new keys
    added."""
    wanted = {tuple(row[name] for name in key): row for row in new}
    for stored in rows.all():
        row = wanted.pop(tuple(getattr(stored, name) for name in key), None)
        if row is None:
            stored.delete()
        else:
            for name, value in row.items():
                setattr(stored, name, value)
            stored.save()
    for row in wanted.values():
        rows.create(**row)


@transaction.atomic
def contract_update(
    *,
    contract: Contract,
    ends_on: date | None,
    webhook_url: str | None,
    routing_models: Sequence[str],
    routing: RoutingTerms,
    value_schedule: Sequence[ValueRow] | None = None,
    fee_schedule: Sequence[FeeRow] | None = None,
    spend_limits: Sequence[SpendLimitRow] | None = None,
) -> Contract:
    """A stored contract's open terms, under contract_create's rules (every
    problem at once, InvalidInput): routing models by name or alias, the
    routing terms, and each schedule as its whole new list (None: as stored).
    They change what happens from now on; what is stored was priced already."""
    problems: list[FieldError] = []
    candidates = [
        _model(problems, field=f"routing_models[{index}]", name=name)
        for index, name in enumerate(routing_models)
    ]
    problems += contract_check(contract=contract, ends_on=ends_on, routing=routing)
    problems += schedules_check(
        value_schedule=value_schedule or (),
        fee_schedule=fee_schedule or (),
        spend_limits=spend_limits or (),
    )
    _raise_if_any(problems)

    routing = routing_terms_resolve(routing)
    contract.ends_on = ends_on
    contract.webhook_url = webhook_url
    for name, value in routing.items():
        setattr(contract, f"routing_{name}", value)
    contract.save(
        update_fields=["ends_on", "webhook_url", *(f"routing_{name}" for name in routing)]
    )
    schedules = (
        (contract.value_schedule, value_schedule, ("kind", "task_type")),
        (contract.fee_schedule, fee_schedule, ("kind", "task_type")),
        (contract.spend_limits, spend_limits, ("window",)),
    )
    for rows, new, key in schedules:
        if new is not None:
            _schedule_replace(rows, new, key=key)
    contract.routing_models.set(candidates)
    return contract
