"""The success model of routing (DESIGN.md "Learning (nightly)"), as plain
numpy: one logistic model per contract,

    p_m(z) = sigma(b_m + w.z + s_m.z)

z being the task type's one-hot followed by the request's standardized
features. ``w`` is shared by every model (how hard a request is), ``b_m`` and
``s_m`` are the model's own terms. Each logged decision is weighted by 1 /
its logged probability, clipped at ``FIT_WEIGHT_CLIP`` (so exploration does
not bias the fit, and a handful of explored rows cannot drown the rest), the
weights scaled to mean 1; the shared and per-model terms
carry an L2 penalty chosen from ``L2_GRID`` by cross-validation on the
logged rows; only the task types' shared terms (the base rate of each task
type) carry a light one. Every model's own terms, its intercept included,
shrink toward the shared ones: without evidence that a model is better or
worse, every model is predicted alike and the cheapest wins. Fitted by
L-BFGS (scipy) with the exact gradient, computed per model over contiguous
blocks so memory stays at the logged data.

The same module estimates a policy's net value on the logged decisions
(doubly robust, DESIGN.md "Promotion guard").
"""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from routing.decisions import standardize

FIT_WEIGHT_CLIP = 3.0
# The doubly robust estimates clip the ratio of target to logged probability.
RATIO_CLIP = 50.0
# The penalties tried for the shared and per-model terms, and how.
L2_GRID = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
CV_FOLDS = 3
CV_ROWS = 100_000
CV_MIN_ROWS = 30
DEFAULT_L2 = 1.0
L2_INTERCEPT = 0.01
MAX_ITERATIONS = 200


@dataclass(slots=True)
class Logged:
    """Logged decisions, one row each: task type index, model index, the
    logged probability of that model, success (0/1), realized cost (contract
    currency) and features (NaN rows: none sent). ``order``: a number per
    row fixed by how the row was logged (None: the rows' positions), so
    the cross-validation folds do not depend on the order a query returned
    them in."""

    task: np.ndarray  # int
    model: np.ndarray  # int
    probability: np.ndarray
    success: np.ndarray
    cost: np.ndarray
    features: np.ndarray  # (n, d), d may be 0
    order: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.task)

    def take(self, rows: np.ndarray) -> "Logged":
        return Logged(
            self.task[rows],
            self.model[rows],
            self.probability[rows],
            self.success[rows],
            self.cost[rows],
            self.features[rows],
            None if self.order is None else self.order[rows],
        )

    @property
    def weights(self) -> np.ndarray:
        return np.minimum(1.0 / self.probability, FIT_WEIGHT_CLIP)


@dataclass(slots=True)
class Fitted:
    """The fitted terms over ``n_models`` models, ``n_tasks`` task types and
    ``d`` features; the features are standardized by ``mean`` and ``scale``."""

    intercept: np.ndarray  # (M,)
    shared_task: np.ndarray  # (T,)
    shared_features: np.ndarray  # (d,)
    model_task: np.ndarray  # (M, T)
    model_features: np.ndarray  # (M, d)
    mean: np.ndarray
    scale: np.ndarray
    l2: float
    # All terms in the solver's order: a warm start for a nearby fit.
    theta: np.ndarray | None = None

    def logits(self, task: np.ndarray, features: np.ndarray) -> np.ndarray:
        """(n, M) logits for rows of task indices (-1: unknown) and raw
        features (NaN rows: the mean request)."""
        known = task >= 0
        safe = np.where(known, task, 0)
        base = self.intercept[None, :] + np.where(
            known[:, None], self.shared_task[safe][:, None] + self.model_task[:, safe].T, 0.0
        )
        if features.shape[1] == 0:
            return base
        z = _standardized_rows(features, self.mean, self.scale)
        return base + z @ (self.shared_features[None, :] + self.model_features).T


def _standardized_rows(features: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Logged rows standardized; a row without features (NaN) reads as the
    mean request."""
    return np.nan_to_num(standardize(features, mean, scale), nan=0.0)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def fit(logged: Logged, *, n_models: int, n_tasks: int) -> Fitted:
    """The L2-regularized, inverse-propensity-weighted logistic fit, its
    penalty chosen by cross-validation."""
    features = logged.features
    d = features.shape[1]
    present = ~np.isnan(features).any(axis=1) if d else np.zeros(len(logged), dtype=bool)
    if d and present.any():
        mean = features[present].mean(axis=0)
        scale = features[present].std(axis=0)
        scale[scale == 0] = 1.0
    else:
        mean, scale = np.zeros(d), np.ones(d)
    shape = {"n_models": n_models, "n_tasks": n_tasks, "mean": mean, "scale": scale}
    l2 = _l2_chosen(logged, **shape)
    return _solve(logged, l2=l2, **shape)


def _l2_chosen(logged: Logged, **shape) -> float:
    """The penalty of L2_GRID whose fits predict held-out rows best
    (weighted log-loss, CV_FOLDS folds by row position in ``order``, on at
    most CV_ROWS evenly spaced rows); ties go to the stronger penalty. Fewer than
    CV_MIN_ROWS rows cannot tell penalties apart: they get DEFAULT_L2."""
    if len(logged) < CV_MIN_ROWS:
        return DEFAULT_L2
    rows = np.arange(len(logged)) if logged.order is None else np.argsort(logged.order)
    if len(rows) > CV_ROWS:
        rows = rows[:: -(-len(rows) // CV_ROWS)]
    sample = logged.take(rows)
    fold = np.arange(len(sample)) % CV_FOLDS
    trains = [sample.take(fold != k) for k in range(CV_FOLDS)]
    held_out = [sample.take(fold == k) for k in range(CV_FOLDS)]
    # From the strongest penalty down, each fit starts from the previous
    # penalty's solution of the same fold (a warm start: few iterations).
    starts: list[np.ndarray | None] = [None] * CV_FOLDS
    best = None
    for l2 in sorted(L2_GRID, reverse=True):
        loss = 0.0
        for k in range(CV_FOLDS):
            fitted = _solve(trains[k], l2=l2, initial=starts[k], **shape)
            starts[k] = fitted.theta
            out = held_out[k]
            logit = fitted.logits(out.task, out.features)[np.arange(len(out)), out.model]
            loss += out.weights @ (np.logaddexp(0.0, logit) - out.success * logit)
        if best is None or loss < best[0] - 1e-9:
            best = (loss, l2)
    return best[1]


def _solve(
    logged: Logged,
    *,
    l2: float,
    n_models: int,
    n_tasks: int,
    mean: np.ndarray,
    scale: np.ndarray,
    initial: np.ndarray | None = None,
) -> Fitted:
    features = logged.features
    d = features.shape[1]
    z = _standardized_rows(features, mean, scale) if d else np.zeros((len(logged), 0))
    order = np.argsort(logged.model, kind="stable")
    z = np.ascontiguousarray(z[order])
    model, task = logged.model[order], logged.task[order]
    y = logged.success[order].astype(np.float64)
    weights = logged.weights[order]
    weights = weights / weights.mean()
    bounds = np.searchsorted(model, np.arange(n_models + 1))
    M, T = n_models, n_tasks
    sizes = (M, T, d, M * T, M * d)
    cuts = np.cumsum(sizes)[:-1]
    cell = model * T + task

    def unpack(theta):
        b, wt, wf, st, sf = np.split(theta, cuts)
        return b, wt, wf, st.reshape(M, T), sf.reshape(M, d)

    def objective(theta):
        b, wt, wf, st, sf = unpack(theta)
        logit = b[model] + wt[task] + st.reshape(-1)[cell]
        for m in range(M):
            lo, hi = bounds[m], bounds[m + 1]
            if hi > lo and d:
                logit[lo:hi] += z[lo:hi] @ (wf + sf[m])
        # log(1 + e^x) - y x, written to stay finite for large |x|.
        loss = weights @ (np.logaddexp(0.0, logit) - y * logit)
        r = weights * (sigmoid(logit) - y)
        g_b = np.bincount(model, r, minlength=M)
        g_wt = np.bincount(task, r, minlength=T)
        g_st = np.bincount(cell, r, minlength=M * T)
        g_wf = np.zeros(d)
        g_sf = np.zeros((M, d))
        if d:
            for m in range(M):
                lo, hi = bounds[m], bounds[m + 1]
                if hi > lo:
                    g_sf[m] = r[lo:hi] @ z[lo:hi]
            g_wf = g_sf.sum(axis=0)
        penalty = 0.5 * (
            L2_INTERCEPT * wt @ wt + l2 * (b @ b + wf @ wf + (st * st).sum() + (sf * sf).sum())
        )
        gradient = np.concatenate(
            [
                g_b + l2 * b,
                g_wt + L2_INTERCEPT * wt,
                g_wf + l2 * wf,
                (g_st + l2 * st.reshape(-1)),
                (g_sf + l2 * sf).reshape(-1),
            ]
        )
        return loss + penalty, gradient

    result = minimize(
        objective,
        np.zeros(sum(sizes)) if initial is None else initial,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": MAX_ITERATIONS},
    )
    b, wt, wf, st, sf = unpack(result.x)
    return Fitted(b, wt, wf, st, sf, mean, scale, l2, result.x)


@dataclass(frozen=True, slots=True)
class Estimate:
    value: float  # mean net value per decision (contract currency)
    success: float  # mean success per decision
    success_se: float  # its standard error


def doubly_robust(
    logged: Logged,
    *,
    target: np.ndarray,
    predicted_success: np.ndarray,
    net_value: np.ndarray,
    realized_net: np.ndarray,
) -> Estimate:
    """The doubly robust estimate of a policy's mean net value and success
    per decision on the logged rows. ``target`` (n, M) is the policy's
    probability of each model for each row; ``predicted_success`` and
    ``net_value`` (n, M) are the reward model's; ``realized_net`` (n,) is
    what the logged decision achieved. The logged outcome corrects the model
    in proportion to how often the policy would have chosen as the log did
    (the ratio clipped at ``RATIO_CLIP``)."""
    rows = np.arange(len(logged))
    ratio = np.minimum(target[rows, logged.model] / logged.probability, RATIO_CLIP)
    value = (target * net_value).sum(axis=1) + ratio * (
        realized_net - net_value[rows, logged.model]
    )
    success = (target * predicted_success).sum(axis=1) + ratio * (
        logged.success - predicted_success[rows, logged.model]
    )
    return Estimate(
        float(value.mean()),
        float(success.mean()),
        float(success.std() / np.sqrt(len(success))) if len(success) > 1 else 1.0,
    )
