"""Record LiteLLM completions in Outcome Ledger, each routed by the ledger's
weights (docs/LITELLM.md).

    export OUTCOME_LEDGER_URL=http://127.0.0.1:8000
    export OUTCOME_LEDGER_KEY=<a vendor key>      # manage.py apikey_create --role vendor
    export OUTCOME_LEDGER_CONTRACT=acme-agent-2026
    python examples/litellm_example.py

It runs offline and needs no provider key: every completion is answered by
LiteLLM's ``mock_response=``. The records are posted in the background and
at exit; if the ledger is down they wait in the spool for the next run.
"""

import os

# Use the price map bundled with litellm instead of fetching it.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import asyncio

import litellm

from outcome_ledger_client import LedgerRouter, OutcomeLedgerLogger, Route

TASK_TYPE = "code_review"


def metadata(task_ref: str, route: Route) -> dict:
    """What the logger reads: the unit of work and the decision that routed it."""
    return {"task_type": TASK_TYPE, "task_ref": task_ref, **route.metadata}


def review(router: LedgerRouter, task_ref: str) -> None:
    route = router.route(task_type=TASK_TYPE, key=task_ref, text=f"Review {task_ref}")
    response = litellm.completion(
        model=route.model,
        messages=[{"role": "user", "content": f"Review {task_ref}"}],
        mock_response=f"{task_ref}: looks good to me.",
        metadata=metadata(task_ref, route),
    )
    print(f"{task_ref}: {route.model} (policy {route.policy_version}), {response.usage}")


async def review_streamed(router: LedgerRouter, task_ref: str) -> None:
    route = router.route(task_type=TASK_TYPE, key=task_ref, text=f"Review {task_ref}")
    stream = await litellm.acompletion(
        model=route.model,
        messages=[{"role": "user", "content": f"Review {task_ref}"}],
        mock_response=f"{task_ref}: two nits, otherwise fine.",
        stream=True,
        metadata=metadata(task_ref, route),
    )
    text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream])
    print(f"{task_ref}: {route.model}, streamed {text!r}")
    await asyncio.sleep(0.5)  # LiteLLM logs a stream in a task of this loop


def failing_review(router: LedgerRouter, task_ref: str) -> None:
    route = router.route(task_type=TASK_TYPE, key=task_ref, text=f"Review {task_ref}")
    try:
        litellm.completion(
            model=route.model,
            messages=[{"role": "user", "content": f"Review {task_ref}"}],
            mock_response=Exception("provider overloaded"),
            metadata=metadata(task_ref, route),
        )
    except Exception as error:  # whatever the provider raised, the call is recorded
        print(f"{task_ref}: failed ({type(error).__name__}), recorded with success=false")


def main() -> None:
    # Every completion, successful or not, becomes a call of the contract.
    litellm.callbacks = [OutcomeLedgerLogger()]
    # The ledger decides every request (a contract routes from its creation
    # on); the default model serves only while the ledger cannot be reached.
    router = LedgerRouter.from_env(default_model="gpt-4o-mini")
    for n in range(812, 817):
        review(router, f"PR-{n}")
    asyncio.run(review_streamed(router, "PR-817"))
    failing_review(router, "PR-818")
    print(
        "the calls are delivered at exit: GET /api/v1/contracts/{code}/calls?task_type=code_review"
    )


if __name__ == "__main__":
    main()
