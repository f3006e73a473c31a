"""The model catalog and the effective-dated price book (DESIGN.md "Price book").

Prices are USD per million tokens (``per_request_usd`` is USD per call).
"""

from django.db import models
from django.db.models.functions import Now

PRICE = {"max_digits": 20, "decimal_places": 10}


# Request featurizers the client package ships (outcome_ledger_client.features),
# by name, with the number of features each gives (DESIGN.md "Decisions are
# records"). A contract may instead declare its own name and length.
DEFAULT_FEATURIZER = "markers-v1"
FEATURIZERS = {DEFAULT_FEATURIZER: 32}
# The most features a route request may carry.
MAX_FEATURES = 1024


class Tier(models.TextChoices):
    FRONTIER = "frontier"
    MID = "mid"
    LIGHT = "light"
    # A model an import created without the operator naming its tier
    # (docs/PRICES.md "Tiers"): priced and costed like any other, never a
    # default baseline (only frontier models are).
    UNKNOWN = "unknown"


class ServiceTier(models.TextChoices):
    STANDARD = "standard"
    BATCH = "batch"
    FLEX = "flex"
    PRIORITY = "priority"


class LlmModel(models.Model):
    name = models.CharField(max_length=200, unique=True)
    provider = models.CharField(max_length=100)
    tier = models.CharField(max_length=10, choices=Tier.choices)

    class Meta:
        ordering = ["name"]
        verbose_name = "model"

    def __str__(self) -> str:
        return self.name


class ModelAlias(models.Model):
    """Another name a model is called by (a dated snapshot, a provider prefix)."""

    llm_model = models.ForeignKey(LlmModel, on_delete=models.CASCADE, related_name="aliases")
    alias = models.CharField(max_length=200, unique=True)

    class Meta:
        ordering = ["alias"]
        verbose_name_plural = "model aliases"

    def __str__(self) -> str:
        return self.alias


OPTIONAL_PRICES = (
    "cache_read",
    "cache_write",
    "cache_write_1h",
    "long_context_input",
    "long_context_output",
    "long_context_cache_read",
    "long_context_cache_write",
    "long_context_cache_write_1h",
)


class Price(models.Model):
    """One price row: in force from ``effective_from`` until the next row of
    the same (model, service tier). A null cache price means "the input price";
    a null ``cache_write_1h`` means "the cache_write price"."""

    llm_model = models.ForeignKey(LlmModel, on_delete=models.PROTECT, related_name="prices")
    service_tier = models.CharField(
        max_length=10, choices=ServiceTier.choices, default=ServiceTier.STANDARD
    )
    effective_from = models.DateTimeField()
    input = models.DecimalField(**PRICE)
    output = models.DecimalField(**PRICE)
    cache_read = models.DecimalField(**PRICE, null=True, blank=True)
    cache_write = models.DecimalField(**PRICE, null=True, blank=True)
    cache_write_1h = models.DecimalField(**PRICE, null=True, blank=True)
    per_request_usd = models.DecimalField(**PRICE, default=0)
    # Above this many input tokens the whole call uses the long_context_* prices.
    long_context_threshold = models.PositiveBigIntegerField(null=True, blank=True)
    long_context_input = models.DecimalField(**PRICE, null=True, blank=True)
    long_context_output = models.DecimalField(**PRICE, null=True, blank=True)
    long_context_cache_read = models.DecimalField(**PRICE, null=True, blank=True)
    long_context_cache_write = models.DecimalField(**PRICE, null=True, blank=True)
    long_context_cache_write_1h = models.DecimalField(**PRICE, null=True, blank=True)
    source = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["llm_model", "service_tier", "effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["llm_model", "service_tier", "effective_from"],
                name="price_one_row_per_model_tier_instant",
            ),
            models.CheckConstraint(
                condition=models.Q(input__gte=0, output__gte=0, per_request_usd__gte=0),
                name="price_not_negative",
            ),
            *[
                models.CheckConstraint(
                    condition=models.Q(**{f"{name}__isnull": True})
                    | models.Q(**{f"{name}__gte": 0}),
                    name=f"price_{name}_not_negative",
                )
                for name in OPTIONAL_PRICES
            ],
            models.CheckConstraint(
                condition=models.Q(long_context_threshold__isnull=True)
                | models.Q(long_context_input__isnull=False, long_context_output__isnull=False),
                name="price_long_context_has_prices",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.llm_model} {self.service_tier} from {self.effective_from:%Y-%m-%d %H:%M}"


class PolicyVersion(models.Model):
    """One routing policy of a contract (DESIGN.md "Routing (learned from the
    ledger's own outcomes)"), append-only: the cold start, then one per
    nightly run.

    ``task_types`` maps a task type to {"model": {"value": V(t), "cost":
    {model: c(t, m)}}, "weights": {model: "0.9100000000"}, "inputs": {...}}:
    the figures the rule uses, the decision probabilities of a request
    without features (summing to exactly 1) and the window's realized figures;
    ``default`` is the entry of a task type the version has not seen.
    ``version`` counts 1, 2, 3... per contract; the version in force is the
    one with the latest ``as_of``.
    """

    contract = models.ForeignKey("billing.Contract", on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField()
    # The run acted as if the clock read as_of; the window is [start, end).
    as_of = models.DateTimeField()
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    parameters = models.JSONField(help_text="The contract's routing terms at the run.")
    # What every decision is computed from (routing.decisions): candidates,
    # baseline, epsilon, audit, margin and the success model's coefficients.
    model = models.JSONField(default=dict)
    # The promotion and quality guards' estimates and verdict (routing.learning).
    guard = models.JSONField(default=dict)
    task_types = models.JSONField(default=dict)
    default = models.JSONField(default=dict)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["contract", "-version"]
        verbose_name = "routing policy version"
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "version"], name="policy_version_unique_per_contract"
            ),
            # A second nightly run for the same instant finds the first's
            # version instead of writing another (routing.tasks is retried).
            models.UniqueConstraint(
                fields=["contract", "as_of"], name="policy_version_once_per_as_of"
            ),
            models.CheckConstraint(
                condition=models.Q(version__gte=1, window_start__lte=models.F("window_end")),
                name="policy_version_sane",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contract.code} v{self.version} (as of {self.as_of:%Y-%m-%d %H:%M})"
