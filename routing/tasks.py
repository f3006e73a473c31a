from billing.nightly import StepFailures, nightly_step
from routing import learning


@nightly_step("routing.policies_learn", "policies")
def policies_learn(as_of):
    # Safe to run twice: the service writes one version per (contract, as_of).
    # It learns every contract it can before it raises, and its message names
    # the contracts left without a version.
    failures = StepFailures()
    try:
        return learning.policies_learn(as_of=as_of).as_dict(), failures
    except learning.PolicyLearningFailed as exc:
        failures.add(None, exc)
        return {}, failures
