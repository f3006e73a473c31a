from datetime import datetime

from core.tasks import retried_task
from routing import learning


@retried_task("routing.policies_learn")
def policies_learn(as_of: str) -> dict:
    # Safe to run twice: the service writes one version per (contract, as_of).
    return learning.policies_learn(as_of=datetime.fromisoformat(as_of)).as_dict()
