"""Serving route decisions (DESIGN.md "Decisions are records"): the hot path
of routers. A decision is pure arithmetic on the contract's version in
force, compiled once per process (routing.decisions); the decision is
stored by ledger.decision_log (one INSERT, or one line of the process's
spool: docs/ROUTING.md "How a decision is stored").
"""

from dataclasses import dataclass

import numpy as np
from django.utils import timezone

from billing.models import Contract
from core.caches import process_cache
from core.errors import ErrorCode, InvalidInput, NotFound
from ledger.decision_log import DecisionRow, decision_record
from ledger.route_ids import route_id_new
from routing.decisions import CompiledPolicy, policy_compile
from routing.learning import policy_cold_start
from routing.models import PolicyVersion
from routing.policy_selectors import latest_version_id
from routing.selectors import model_ids_named


@dataclass(frozen=True, slots=True)
class _Served:
    policy_id: int
    compiled: CompiledPolicy
    model_ids: dict[str, int]
    feature_length: int


# The compiled version in force of each contract (contract id -> _Served),
# in this process; only a changed version id reloads and recompiles it.
# Threads of one worker may race to fill an entry; both store the same thing.
_served = process_cache("served_policies")


def _load(policy: PolicyVersion) -> _Served:
    compiled = policy_compile(
        version=policy.version,
        model=policy.model,
        task_types=policy.task_types,
        default=policy.default,
    )
    ids = model_ids_named(names=compiled.candidates)
    return _Served(policy.id, compiled, ids, policy.parameters["feature_length"])


def _served_for(contract_id: int) -> _Served:
    policy_id = latest_version_id(contract_id=contract_id)
    served = _served.get(contract_id)
    if served is not None and served.policy_id == policy_id:
        return served
    if policy_id is None:
        policy = policy_cold_start(contract=Contract.objects.get(id=contract_id))
    else:
        policy = PolicyVersion.objects.get(contract_id=contract_id, id=policy_id)
    served = _load(policy)
    _served.put(contract_id, served)
    return served


@dataclass(frozen=True, slots=True)
class Routed:
    route_id: str
    model: str
    policy_version: int
    probability: str
    explored: bool


def route_for_contract(
    *, contract_id: int, task_type: str, key: str, features: list[float] | None = None
) -> Routed:
    """The model for one request of the contract, stored as a decision; the
    same key, version and features give the same model. The caller has
    resolved the contract and authorized the write (billing.scope)."""
    served = _served_for(contract_id)
    vector = None
    if features is not None:
        if len(features) != served.feature_length:
            raise InvalidInput(
                f"features has {len(features)} numbers; this contract's featurizer gives "
                f"{served.feature_length}",
                code=ErrorCode.INVALID_FEATURES,
            )
        vector = np.asarray(features, dtype=np.float64)
        if not np.isfinite(vector).all():
            raise InvalidInput("features must be finite numbers", code=ErrorCode.INVALID_FEATURES)
    if not served.compiled.candidates:
        raise NotFound(
            f"policy version {served.compiled.version} has no model to route to (no priced "
            "candidate and no baseline model)",
            code=ErrorCode.NO_ROUTE,
        )
    decision = served.compiled.decide(task_type=task_type, key=key, features=vector)
    model_id = served.model_ids.get(decision.model)
    if model_id is None:
        # A version names its models; one deleted from the catalog since
        # cannot be routed to (the next nightly run learns over the catalog
        # as it is).
        raise NotFound(
            f"policy version {served.compiled.version} routes to '{decision.model}', which is no "
            "longer in the catalog",
            code=ErrorCode.NO_ROUTE,
        )
    route_id = route_id_new(contract_id)
    decision_record(
        DecisionRow(
            contract_id=contract_id,
            route_id=route_id,
            decided_at=timezone.now(),
            task_type=task_type,
            key=key,
            features=None if vector is None else vector.astype("<f8").tobytes(),
            policy_version=served.compiled.version,
            llm_model_id=model_id,
            probability=decision.probability,
            explored=decision.explored,
        )
    )
    return Routed(
        route_id,
        decision.model,
        served.compiled.version,
        f"{decision.probability:f}",
        decision.explored,
    )
