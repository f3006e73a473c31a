"""Append-only records: calls, outcomes and outcome events (DESIGN.md "Call",
"Outcome"). A database trigger (migration 0002) refuses UPDATE and DELETE on
these tables; corrections are new rows.

Every unique constraint includes ``contract_id`` so the tables can be
distributed by contract (DESIGN.md "Scale", docs/SCALE.md).
"""

from django.db import models
from django.db.models.functions import Now

from core.money import SUM_FIELD, TOKEN_SUM_FIELD
from routing.models import ServiceTier

AMOUNT = {"max_digits": 30, "decimal_places": 10}


class OutcomeStatus(models.TextChoices):
    ACCEPTED = "accepted"
    DISPUTED = "disputed"
    REJECTED = "rejected"


class OutcomeSource(models.TextChoices):
    VENDOR = "vendor"
    CUSTOMER = "customer"


# Bytewise ("C") collation: the unique index then yields external ids in the
# order the statement digest sorts its lines (API.md "Digest").
EXTERNAL_ID = {"max_length": 200, "db_collation": "C"}


class Call(models.Model):
    # The references of a call are checked where it is written (ingestion
    # resolves the contract, model and price rows it stores in the same
    # transaction, and those rows are never deleted: PROTECT, no delete in the
    # admin), not by foreign-key constraints: the three constraints and their
    # indexes cost PostgreSQL about 15 us per ingested call, half its work
    # (docs/BENCHMARKS.md). The composite indexes below lead with contract_id.
    contract = models.ForeignKey(
        "billing.Contract",
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    external_id = models.CharField(**EXTERNAL_ID)
    occurred_at = models.DateTimeField()
    llm_model = models.ForeignKey(
        "routing.LlmModel",
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    # The price row that costed the call; null when the call reported its own
    # cost and no price was in force.
    price = models.ForeignKey(
        "routing.Price",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    task_type = models.CharField(max_length=100)
    task_ref = models.CharField(max_length=200, null=True, blank=True)
    input_tokens = models.BigIntegerField()
    output_tokens = models.BigIntegerField()
    cache_read_tokens = models.BigIntegerField(default=0)
    cache_write_tokens = models.BigIntegerField(default=0)
    cache_write_1h_tokens = models.BigIntegerField(default=0)
    reasoning_tokens = models.BigIntegerField(default=0)
    service_tier = models.CharField(
        max_length=10, choices=ServiceTier.choices, default=ServiceTier.STANDARD
    )
    reported_cost_usd = models.DecimalField("reported cost (USD)", **AMOUNT, null=True, blank=True)
    computed_cost_usd = models.DecimalField("computed cost (USD)", **AMOUNT, null=True, blank=True)
    cost_usd = models.DecimalField("cost (USD)", **AMOUNT)
    # cost_usd x fx_rate x (1 + markup), in the contract currency.
    charge = models.DecimalField(**AMOUNT)
    # What the same tokens would have cost at the baseline model (DESIGN.md
    # "Routing savings"), fixed at ingestion like cost_usd.
    baseline_cost_usd = models.DecimalField("baseline cost (USD)", **AMOUNT)
    latency_ms = models.IntegerField("latency (ms)", null=True, blank=True)
    success = models.BooleanField(default=True)
    policy_version = models.IntegerField(null=True, blank=True)
    # The routing decision that chose the model (DESIGN.md "Decisions are
    # records"); ingestion checks it is one of this contract's decisions.
    route_id = models.CharField(max_length=64, null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # Hash of the record's normalized content: same external_id + same
    # fingerprint = duplicate, other fingerprint = conflict.
    fingerprint = models.BinaryField(max_length=16)
    ingested_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "external_id"], name="call_external_id_unique_per_contract"
            ),
            models.CheckConstraint(
                condition=models.Q(
                    input_tokens__gte=0,
                    output_tokens__gte=0,
                    cache_read_tokens__gte=0,
                    cache_write_tokens__gte=0,
                    cache_write_1h_tokens__gte=0,
                    reasoning_tokens__gte=0,
                    cost_usd__gte=0,
                    charge__gte=0,
                ),
                name="call_counts_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    input_tokens__gte=models.F("cache_read_tokens")
                    + models.F("cache_write_tokens"),
                    cache_write_tokens__gte=models.F("cache_write_1h_tokens"),
                    output_tokens__gte=models.F("reasoning_tokens"),
                ),
                name="call_token_buckets_consistent",
            ),
        ]
        indexes = [
            models.Index(fields=["contract", "occurred_at"], name="call_contract_time"),
            # Learning joins decisions to the calls they routed.
            models.Index(
                fields=["contract", "route_id"],
                name="call_contract_route",
                condition=models.Q(route_id__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.external_id


class Outcome(models.Model):
    contract = models.ForeignKey("billing.Contract", on_delete=models.PROTECT, related_name="+")
    external_id = models.CharField(**EXTERNAL_ID)
    occurred_at = models.DateTimeField()
    kind = models.CharField(max_length=100)
    task_type = models.CharField(max_length=100)
    task_ref = models.CharField(max_length=200, null=True, blank=True)
    quantity = models.DecimalField(**AMOUNT)
    # Priced at ingestion from the contract's schedules, so a later schedule
    # edit never rewrites history (DESIGN.md "Outcome", "Charges").
    unit_value = models.DecimalField(**AMOUNT)
    value = models.DecimalField(**AMOUNT)
    unit_fee = models.DecimalField(**AMOUNT)
    fee = models.DecimalField(**AMOUNT)
    source = models.CharField(
        max_length=10, choices=OutcomeSource.choices, default=OutcomeSource.VENDOR
    )
    metadata = models.JSONField(default=dict, blank=True)
    fingerprint = models.BinaryField(max_length=16)
    ingested_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "external_id"], name="outcome_external_id_unique_per_contract"
            ),
            models.CheckConstraint(
                condition=models.Q(quantity__gte=0, unit_value__gte=0, unit_fee__gte=0),
                name="outcome_amounts_not_negative",
            ),
        ]
        indexes = [
            models.Index(fields=["contract", "occurred_at"], name="outcome_contract_time"),
            models.Index(fields=["contract", "task_ref"], name="outcome_contract_task_ref"),
        ]

    def __str__(self) -> str:
        return self.external_id


class OutcomeEvent(models.Model):
    """A change of an outcome's status. An outcome is ``accepted`` when it
    is ingested; its status is the ``to_status`` of its latest event."""

    contract = models.ForeignKey("billing.Contract", on_delete=models.PROTECT, related_name="+")
    outcome = models.ForeignKey(Outcome, on_delete=models.PROTECT, related_name="events")
    seq = models.PositiveIntegerField()
    from_status = models.CharField(max_length=10, choices=OutcomeStatus.choices)
    to_status = models.CharField(max_length=10, choices=OutcomeStatus.choices)
    actor = models.CharField(max_length=200, help_text="organization/role of the key that acted")
    reason = models.TextField()
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["outcome_id", "seq"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "outcome", "seq"], name="outcome_event_seq_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.outcome_id} #{self.seq}: {self.from_status} -> {self.to_status}"


class DirtyDay(models.Model):
    """A (contract, local day) that received records (or an outcome status
    change) since the nightly run last looked. Appended, never upserted, so
    concurrent ingestions never wait on each other.

    The rollup step re-aggregates the marked days and flags the marks
    ``rolled_up``; the settlement step then re-settles the periods they touch
    and deletes exactly the marks it read. A mark committed during a run
    survives for the next one, and a run that dies half-way is redone."""

    contract = models.ForeignKey("billing.Contract", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    rolled_up = models.BooleanField(default=False)
    marked_at = models.DateTimeField(db_default=Now())

    class Meta:
        indexes = [models.Index(fields=["contract", "day"], name="dirty_day_contract_day")]

    def __str__(self) -> str:
        return f"{self.contract_id} {self.day}"


class CallRollup(models.Model):
    """Calls per (contract, local day, model, task type, service tier):
    derived data, rebuilt for a day whenever that day is marked dirty. Sums
    are NUMERIC wide enough for any number of records (core.money)."""

    contract = models.ForeignKey("billing.Contract", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    llm_model = models.ForeignKey("routing.LlmModel", on_delete=models.PROTECT, related_name="+")
    task_type = models.CharField(max_length=100)
    service_tier = models.CharField(max_length=10)
    calls = models.BigIntegerField()
    input_tokens = models.DecimalField(**TOKEN_SUM_FIELD)
    output_tokens = models.DecimalField(**TOKEN_SUM_FIELD)
    cache_read_tokens = models.DecimalField(**TOKEN_SUM_FIELD)
    cache_write_tokens = models.DecimalField(**TOKEN_SUM_FIELD)
    # The part of cache_write_tokens written for one hour (DESIGN.md "Call").
    cache_write_1h_tokens = models.DecimalField(**TOKEN_SUM_FIELD, default=0)
    reasoning_tokens = models.DecimalField(**TOKEN_SUM_FIELD)
    cost_usd = models.DecimalField(**SUM_FIELD)
    charge = models.DecimalField(**SUM_FIELD)
    baseline_cost_usd = models.DecimalField(**SUM_FIELD)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "day", "llm_model", "task_type", "service_tier"],
                name="call_rollup_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.contract_id} {self.day} {self.llm_model_id} {self.task_type}"


class OutcomeRollup(models.Model):
    """Outcomes per (contract, local day, kind, task type, current status)."""

    contract = models.ForeignKey("billing.Contract", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    kind = models.CharField(max_length=100)
    task_type = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=OutcomeStatus.choices)
    outcomes = models.BigIntegerField()
    quantity = models.DecimalField(**SUM_FIELD)
    value = models.DecimalField(**SUM_FIELD)
    fee = models.DecimalField(**SUM_FIELD)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "day", "kind", "task_type", "status"],
                name="outcome_rollup_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.contract_id} {self.day} {self.kind} {self.status}"


class ContractModelUsed(models.Model):
    """A model some call of the contract used: derived from the calls,
    appended by ingestion in the transaction that stores them (one row per
    pair, never removed). The default baseline reads it (DESIGN.md "Routing
    savings": among the models the contract's calls used) without scanning
    the calls."""

    contract = models.ForeignKey("billing.Contract", on_delete=models.CASCADE, related_name="+")
    llm_model = models.ForeignKey("routing.LlmModel", on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "llm_model"], name="contract_model_used_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.contract_id} {self.llm_model_id}"


class Account(models.TextChoices):
    """The journal's accounts, from the vendor's books (docs/SETTLEMENT.md)."""

    RECEIVABLE = "receivable", "Customer receivable"
    REVENUE = "revenue", "Vendor revenue"
    GUARANTEE_EXPENSE = "guarantee_expense", "Guarantee payout expense"
    CUSTOMER_CREDIT = "customer_credit", "Customer credit (payout liability)"


class JournalEntry(models.Model):
    """One balanced double-entry entry: its postings sum to zero."""

    contract = models.ForeignKey("billing.Contract", on_delete=models.PROTECT, related_name="+")
    statement_number = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    memo = models.CharField(max_length=200)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        verbose_name_plural = "journal entries"
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "statement_number"], name="journal_one_entry_per_statement"
            )
        ]

    def __str__(self) -> str:
        return f"{self.contract_id} #{self.statement_number}: {self.memo}"


class JournalPosting(models.Model):
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="postings")
    contract = models.ForeignKey("billing.Contract", on_delete=models.PROTECT, related_name="+")
    account = models.CharField(max_length=20, choices=Account.choices)
    # Debit positive, credit negative, in the entry's currency; as wide as
    # the statement totals it posts.
    amount = models.DecimalField(**SUM_FIELD)

    class Meta:
        ordering = ["entry_id", "id"]

    def __str__(self) -> str:
        return f"{self.account} {self.amount}"


class RouteDecision(models.Model):
    """One routing decision (DESIGN.md "Decisions are records"): which model
    a policy version chose for one request, and with what probability.
    Append-only like calls; never any prompt text. ``features`` are the
    request's numbers as the client sent them (float64, little-endian,
    packed), null when it sent none."""

    contract = models.ForeignKey(
        "billing.Contract",
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    route_id = models.CharField(max_length=64, db_collation="C")
    decided_at = models.DateTimeField(db_default=Now())
    task_type = models.CharField(max_length=100)
    key = models.CharField(max_length=1000)
    features = models.BinaryField(null=True, blank=True)
    policy_version = models.IntegerField()
    llm_model = models.ForeignKey(
        "routing.LlmModel",
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    # The chance the policy gave the chosen model for this request.
    probability = models.DecimalField(max_digits=11, decimal_places=10)
    explored = models.BooleanField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "route_id"], name="decision_route_id_unique_per_contract"
            ),
            models.CheckConstraint(
                condition=models.Q(probability__gt=0, probability__lte=1),
                name="decision_probability_in_range",
            ),
        ]
        indexes = [
            models.Index(fields=["contract", "decided_at"], name="decision_contract_time"),
        ]

    def __str__(self) -> str:
        return self.route_id
