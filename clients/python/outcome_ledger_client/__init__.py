"""Client of the Outcome Ledger API: a LiteLLM callback that records every
completion as a call, the batching sender behind it, a router that asks the
ledger which model serves a request, and the default request featurizer
(docs/LITELLM.md).

Only the standard library is needed; ``OutcomeLedgerLogger`` needs litellm
(``pip install 'outcome-ledger-client[litellm]'``) and is imported on first use.
"""

from outcome_ledger_client.features import request_features
from outcome_ledger_client.router import LedgerRouter, Route
from outcome_ledger_client.sender import DeliveryTotals, LedgerSender
from outcome_ledger_client.usage import TokenBuckets, token_buckets

__all__ = [
    "DeliveryTotals",
    "LedgerRouter",
    "LedgerSender",
    "OutcomeLedgerLogger",
    "Route",
    "TokenBuckets",
    "request_features",
    "token_buckets",
]


def __getattr__(name: str):
    if name == "OutcomeLedgerLogger":
        from outcome_ledger_client.litellm_logger import OutcomeLedgerLogger

        return OutcomeLedgerLogger
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
