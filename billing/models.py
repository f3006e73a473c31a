"""Organizations, API keys, contracts and their schedules (DESIGN.md "Parts").

Money fields are in the contract currency unless their name ends in ``_usd``.
"""

import functools
import secrets
import zoneinfo
from decimal import Decimal
from types import MappingProxyType

from django.core.exceptions import ValidationError
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey, BaseAPIKeyManager

from billing import formulas
from core.money import SUM_FIELD
from routing.models import DEFAULT_FEATURIZER, FEATURIZERS, MAX_FEATURES

AMOUNT = {"max_digits": 30, "decimal_places": 10}
RATE = {"max_digits": 20, "decimal_places": 10}


@functools.cache
def _iana_zones() -> frozenset[str]:
    # The zone list is read from disk (tens of ms); it does not change at run time.
    return frozenset(zoneinfo.available_timezones())


def timezone_error(value: str) -> str | None:
    """DESIGN.md "Money and numbers": periods are cut in an IANA time zone.
    What is wrong with ``value`` as one, or None."""
    return None if value in _iana_zones() else f"'{value}' is not an IANA time zone"


def validate_timezone(value: str) -> None:
    error = timezone_error(value)
    if error is not None:
        raise ValidationError(error)


def webhook_secret_new() -> str:
    """A contract's webhook signing secret (docs/ALERTS.md "Signatures")."""
    return "whsec_" + secrets.token_urlsafe(32)


class Organization(models.Model):
    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Role(models.TextChoices):
    VENDOR = "vendor"
    CUSTOMER = "customer"
    ADMIN = "admin"


class ApiKeyManager(BaseAPIKeyManager):
    def get_usable_keys(self):
        return super().get_usable_keys().select_related("organization")


class ApiKey(AbstractAPIKey):
    """A key belongs to one organization and has one role (API.md "Auth").
    Only a hash is stored; a revoked key stops working within
    API_KEY_CACHE_SECONDS (billing/auth.py)."""

    objects = ApiKeyManager()

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="keys")
    role = models.CharField(max_length=10, choices=Role.choices)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"


class Period(models.TextChoices):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class Contract(models.Model):
    code = models.SlugField(max_length=100, unique=True)
    vendor = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="contracts_as_vendor"
    )
    customer = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="contracts_as_customer"
    )
    currency = models.CharField(max_length=3, default="USD")
    # USD -> contract currency; prices are in USD (DESIGN.md "Money and numbers").
    fx_rate = models.DecimalField(**RATE, default=Decimal(1))
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    period = models.CharField(max_length=8, choices=Period.choices, default=Period.MONTH)
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True, help_text="Last day covered, inclusive.")
    markup = models.DecimalField(**RATE, default=Decimal(0))
    fixed_fee = models.DecimalField(**AMOUNT, default=Decimal(0), help_text="Per period.")
    hourly_rate = models.DecimalField(**AMOUNT, null=True, blank=True)
    guarantee_multiple = models.DecimalField(**RATE, default=Decimal(0))
    payout_share = models.DecimalField(**RATE, default=Decimal(1))
    payout_cap = models.DecimalField(**AMOUNT, default=Decimal(0))
    grace_days = models.PositiveIntegerField(default=7)
    min_sample = models.PositiveIntegerField(default=30)
    baseline_model = models.ForeignKey(
        "routing.LlmModel", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    webhook_url = models.URLField(null=True, blank=True)
    # Signs every webhook (HMAC-SHA256, DESIGN.md "Trust between the
    # parties"). Kept as it is, since the sender needs it to sign; shown once,
    # when the contract is created or the secret rotated (docs/ALERTS.md).
    webhook_secret = models.CharField(max_length=64, default=webhook_secret_new, editable=False)
    routing_models = models.ManyToManyField("routing.LlmModel", blank=True, related_name="+")
    routing_window_days = models.PositiveIntegerField(default=28)
    routing_min_tasks = models.PositiveIntegerField(default=20)
    routing_tolerance = models.DecimalField(**RATE, default=Decimal("0.02"))
    routing_epsilon = models.DecimalField(**RATE, default=Decimal("0.05"))
    # DESIGN.md "The decision rule": the share of requests sent to the
    # baseline model to keep its success rate measured, and what a point of
    # success is worth against a dollar.
    routing_audit = models.DecimalField(**RATE, default=Decimal("0.05"))
    routing_value_weight = models.DecimalField(**RATE, default=Decimal(1))
    # What a route request's "features" are: a featurizer the client package
    # ships (routing.models.FEATURIZERS) or the vendor's own, of a fixed length.
    routing_featurizer = models.CharField(max_length=100, default=DEFAULT_FEATURIZER)
    routing_feature_length = models.PositiveSmallIntegerField(
        default=FEATURIZERS[DEFAULT_FEATURIZER]
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=models.Q(fx_rate__gt=0), name="contract_fx_positive"),
            models.CheckConstraint(
                condition=models.Q(
                    markup__gte=0,
                    fixed_fee__gte=0,
                    payout_cap__gte=0,
                    guarantee_multiple__gte=0,
                    payout_share__gte=0,
                    payout_share__lte=1,
                ),
                name="contract_terms_in_range",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    routing_epsilon__gte=0,
                    routing_audit__gte=0,
                    routing_epsilon__lte=1 - models.F("routing_audit"),
                    routing_tolerance__gte=0,
                    routing_value_weight__gte=0,
                    routing_feature_length__gte=1,
                    routing_feature_length__lte=MAX_FEATURES,
                ),
                name="contract_routing_terms_in_range",
            ),
            models.CheckConstraint(
                condition=models.Q(ends_on__isnull=True)
                | models.Q(ends_on__gte=models.F("starts_on")),
                name="contract_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


# DESIGN.md's defaults of a contract's terms, as the fields above declare
# them: contract_create and the API's serializer read them here instead of
# repeating them (the admin's form takes them from the fields). The webhook
# secret's default is a new secret each time, not a term.
CONTRACT_DEFAULTS = MappingProxyType(
    {
        field.name: field.default
        for field in Contract._meta.concrete_fields
        if field.has_default() and not callable(field.default)
    }
)


class ValueScheduleRow(models.Model):
    """What one unit of an outcome kind is worth; ``task_type`` null = any."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="value_schedule")
    kind = models.CharField(max_length=100)
    task_type = models.CharField(max_length=100, null=True, blank=True)
    unit_value = models.DecimalField(**AMOUNT)

    class Meta:
        ordering = ["kind", "task_type"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "kind", "task_type"],
                nulls_distinct=False,
                name="value_schedule_one_row_per_kind_task_type",
            ),
            models.CheckConstraint(
                condition=models.Q(unit_value__gte=0), name="value_schedule_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}/{self.task_type or '*'} = {self.unit_value}"


class FeeScheduleRow(models.Model):
    """The fee per accepted unit of an outcome kind; ``task_type`` null = any."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="fee_schedule")
    kind = models.CharField(max_length=100)
    task_type = models.CharField(max_length=100, null=True, blank=True)
    fee = models.DecimalField(**AMOUNT)

    class Meta:
        ordering = ["kind", "task_type"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "kind", "task_type"],
                nulls_distinct=False,
                name="fee_schedule_one_row_per_kind_task_type",
            ),
            models.CheckConstraint(condition=models.Q(fee__gte=0), name="fee_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}/{self.task_type or '*'} fee {self.fee}"


class SpendWindow(models.TextChoices):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class SpendLimit(models.Model):
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="spend_limits")
    window = models.CharField(max_length=5, choices=SpendWindow.choices)
    amount = models.DecimalField(**AMOUNT)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "window"], name="spend_limit_one_per_window"
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="spend_limit_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.window} {self.amount}"


class StatementKind(models.TextChoices):
    SETTLEMENT = "settlement"
    ADJUSTMENT = "adjustment"


class Statement(models.Model):
    """A numbered, immutable statement (DESIGN.md "Period settlement").

    A settlement statement carries a period's figures; an adjustment carries
    the difference between the period as re-settled and everything issued for
    it before (``period_figures`` holds the whole re-settled period). Amounts
    are rounded to the currency's minor unit; ``cost_usd`` and the baseline
    figures are in USD, the rest in ``currency``. A database trigger refuses
    UPDATE and DELETE (migration billing 0003). Amounts and ratios are
    NUMERIC(60, 10), wide enough for every figure a period can reach
    (core.money.SUM_FIELD, docs/SETTLEMENT.md "Bounds").
    """

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="statements")
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=StatementKind.choices)
    adjusts = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="adjustments"
    )
    period_start = models.DateField()
    period_end = models.DateField(help_text="Exclusive: the first day of the next period.")
    currency = models.CharField(max_length=3)
    calls = models.BigIntegerField()
    accepted_outcomes = models.BigIntegerField()
    cost_usd = models.DecimalField("cost (USD)", **SUM_FIELD)
    usage_charges = models.DecimalField(**SUM_FIELD)
    outcome_fees = models.DecimalField(**SUM_FIELD)
    fixed_fee = models.DecimalField(**SUM_FIELD)
    charges = models.DecimalField(**SUM_FIELD)
    value = models.DecimalField(**SUM_FIELD)
    roi = models.DecimalField("ROI", **SUM_FIELD, null=True, blank=True)
    guaranteed_value = models.DecimalField(**SUM_FIELD)
    shortfall = models.DecimalField(**SUM_FIELD)
    payout = models.DecimalField(**SUM_FIELD)
    cap_remaining = models.DecimalField(**SUM_FIELD)
    baseline_cost_usd = models.DecimalField("baseline cost (USD)", **SUM_FIELD)
    savings_usd = models.DecimalField("savings (USD)", **SUM_FIELD)
    efficiency = models.DecimalField(**SUM_FIELD, null=True, blank=True)
    min_sample = models.PositiveIntegerField()
    lines = models.JSONField(default=list)
    outcome_lines = models.JSONField(default=list)
    savings_by_task_type = models.JSONField(default=list)
    daily = models.JSONField(default=list, help_text="Cost, charges and value per local day.")
    period_figures = models.JSONField(default=dict)
    input_digest = models.CharField(max_length=64)
    # DESIGN.md "Statistical honesty on statements": the 95% interval of the
    # period's value over its tasks (billing/intervals.py). On an adjustment
    # ``tasks`` is the difference and the interval is null (an interval has no
    # difference); period_figures holds the re-settled period's. Null on
    # statements issued before the interval was recorded.
    tasks = models.BigIntegerField(null=True, blank=True)
    value_ci_low = models.DecimalField(**SUM_FIELD, null=True, blank=True)
    value_ci_high = models.DecimalField(**SUM_FIELD, null=True, blank=True)
    shortfall_within_noise = models.BooleanField(null=True, blank=True)
    # The run settled the period as if the clock read ``as_of`` (nightly
    # --as-of); ``issued_at`` is when the statement was really written
    # (DESIGN.md "Trust between the parties").
    as_of = models.DateTimeField()
    issued_at = models.DateTimeField()

    class Meta:
        ordering = ["contract", "number"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "number"], name="statement_number_unique"),
            models.UniqueConstraint(
                fields=["contract", "period_start"],
                condition=models.Q(kind="settlement"),
                name="statement_one_settlement_per_period",
            ),
            models.CheckConstraint(
                condition=models.Q(kind="settlement", adjusts__isnull=True)
                | models.Q(kind="adjustment", adjusts__isnull=False),
                name="statement_adjustment_links_original",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contract.code} #{self.number} ({self.kind} {self.period_start})"

    @property
    def few_outcomes(self) -> bool:
        """DESIGN.md "Statistical honesty": the guarantee figure rests on too
        few accepted outcomes (the payout is still computed). An adjustment
        shows differences, so the count is the period's as re-settled."""
        return self.period_figures["accepted_outcomes"] < self.min_sample

    @property
    def cap_bound(self) -> bool:
        """The payout cap limited the period's payout: the payout share of
        the shortfall, as re-settled, is more than the payout issued for it
        (docs/SETTLEMENT.md)."""
        figures = self.period_figures
        wanted = formulas.payout_before_cap(
            shortfall=Decimal(figures["shortfall"]),
            payout_share=self.contract.payout_share,
            currency=self.currency,
        )
        return wanted > Decimal(figures["payout"])


class SpendCounter(models.Model):
    """Charges so far in one spend-limit window (contract currency)."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="+")
    window = models.CharField(max_length=5, choices=SpendWindow.choices)
    window_start = models.DateField()
    charges = models.DecimalField(**SUM_FIELD, default=Decimal(0))

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "window", "window_start"], name="spend_counter_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.window} from {self.window_start}: {self.charges}"


class SpendAlert(models.Model):
    """One alert per (window, threshold) crossed (DESIGN.md "Spend limits")."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="spend_alerts")
    window = models.CharField(max_length=5, choices=SpendWindow.choices)
    window_start = models.DateField()
    threshold_percent = models.PositiveSmallIntegerField()
    limit_amount = models.DecimalField(**AMOUNT)
    charges = models.DecimalField(**SUM_FIELD, help_text="Window charges when crossed.")
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "window", "window_start", "threshold_percent"],
                name="spend_alert_once_per_window_threshold",
            )
        ]

    def __str__(self) -> str:
        return f"{self.window} {self.window_start} {self.threshold_percent}%"


class WebhookEventKind(models.TextChoices):
    STATEMENT_ISSUED = "statement.issued"
    DISPUTE_OPENED = "dispute.opened"


class WebhookEvent(models.Model):
    """A message for the contract's webhook other than a spend alert (which
    is delivered from its own row): a statement issued, a dispute opened
    (DESIGN.md "Trust between the parties"). Appended in the transaction of
    what it reports, delivered once that commits."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="webhook_events")
    event = models.CharField(max_length=32, choices=WebhookEventKind.choices)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.event} #{self.pk}"


class RepriceCorrection(models.Model):
    """What a decided reprice changes in one contract period (DESIGN.md
    "Price book": a decided reprice is posted as an adjustment). Calls keep
    the costs they were stored with; settlement adds the period's
    corrections to its cost and usage charges, so the next nightly run
    issues an adjustment for a settled period (docs/PRICES.md "Repricing").
    Append-only, like the statements it feeds (migration billing 0004)."""

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="+")
    period_start = models.DateField()
    price = models.ForeignKey("routing.Price", on_delete=models.PROTECT, related_name="+")
    llm_model = models.ForeignKey("routing.LlmModel", on_delete=models.PROTECT, related_name="+")
    calls = models.BigIntegerField(help_text="Calls repriced (costed by the price book).")
    cost_usd = models.DecimalField(**SUM_FIELD, help_text="Difference of cost, USD.")
    charge = models.DecimalField(**SUM_FIELD, help_text="Difference of usage charges.")
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["contract", "period_start", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "price", "period_start"],
                name="reprice_correction_once_per_period",
            )
        ]

    def __str__(self) -> str:
        return f"{self.contract_id} {self.period_start} {self.llm_model_id}: {self.cost_usd}"


class NightlyFailure(models.Model):
    """A contract a step of the nightly chain could not finish (DESIGN.md
    "Trust between the parties": one contract's bad data never stops
    another's nightly work). The other contracts were done; this row is the
    alert, shown in the admin, and the step is retried on the next run.
    ``contract`` is empty when the step failed as a whole."""

    step = models.CharField(max_length=20)
    contract = models.ForeignKey(
        Contract, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    as_of = models.DateTimeField(help_text="The time the run acted as of.")
    error = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["contract", "created_at"])]

    def __str__(self) -> str:
        return f"{self.step} {self.contract_id} {self.as_of:%Y-%m-%d %H:%M}"
