from datetime import datetime

from celery import shared_task

from routing import learning


@shared_task(
    name="routing.policies_learn",
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=5,
)
def policies_learn(as_of: str) -> dict:
    # Safe to run twice: the service writes one version per (contract, as_of).
    return learning.policies_learn(as_of=datetime.fromisoformat(as_of)).as_dict()
