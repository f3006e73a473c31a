"""Provider usage → the ledger's token buckets (DESIGN.md "Call").

The ledger counts every input token in ``input_tokens``, cached ones
included, and every output token in ``output_tokens``, reasoning included.
Providers disagree on the shape:

- OpenAI (and LiteLLM's ``Usage``, which normalizes every provider to it):
  ``prompt_tokens`` already includes ``prompt_tokens_details.cached_tokens``
  and ``completion_tokens`` includes
  ``completion_tokens_details.reasoning_tokens``. LiteLLM adds the cache
  writes as ``prompt_tokens_details.cache_write_tokens`` (also mirrored as
  ``cache_creation_tokens``) and Anthropic's one-hour writes as
  ``prompt_tokens_details.cache_creation_token_details.ephemeral_1h_input_tokens``.
  OpenAI's Responses API says ``input_tokens``/``output_tokens`` with
  ``input_tokens_details``/``output_tokens_details``, same convention.
- Anthropic: ``input_tokens`` EXCLUDES ``cache_read_input_tokens`` and
  ``cache_creation_input_tokens``, so the three are added;
  ``cache_creation.ephemeral_1h_input_tokens`` are the one-hour writes.
- Gemini ``usageMetadata``: ``promptTokenCount`` includes
  ``cachedContentTokenCount``; the output is ``candidatesTokenCount`` plus
  ``thoughtsTokenCount`` (the thoughts are the reasoning), and tool-use
  prompts (``toolUsePromptTokenCount``) are input billed on top of the
  prompt. The google-genai SDK's snake_case names are read too.

Each shape arrives as a dict (a raw provider body) or an object with
attributes (LiteLLM's pydantic ``Usage``); both are read the same way.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class TokenBuckets:
    """The token fields of a call record (API.md "Ingestion")."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0

    def as_record(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


def _field(source: Any, name: str) -> Any:
    if source is None:
        return None
    if isinstance(source, Mapping):
        return source.get(name)
    return getattr(source, name, None)


def _count(source: Any, *path: str) -> int:
    """The integer at ``path`` (one name per level); 0 when any level is
    missing or null, which is how providers leave out a bucket."""
    for name in path:
        source = _field(source, name)
    return int(source) if isinstance(source, int | float) else 0


def _first_count(source: Any, *names: str) -> int:
    """The first of ``names`` that is present (camelCase or snake_case)."""
    for name in names:
        if _field(source, name) is not None:
            return _count(source, name)
    return 0


# (input, output, input details, output details): Chat Completions (and
# LiteLLM's Usage), then the Responses API.
CHAT_NAMES = (
    "prompt_tokens",
    "completion_tokens",
    "prompt_tokens_details",
    "completion_tokens_details",
)
RESPONSES_NAMES = ("input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details")


def _openai(usage: Any, names: tuple[str, str, str, str]) -> TokenBuckets:
    input_name, output_name, in_details, out_details = names
    cache_write = _count(usage, in_details, "cache_write_tokens") or _count(
        usage, in_details, "cache_creation_tokens"
    )
    return TokenBuckets(
        input_tokens=_count(usage, input_name),
        output_tokens=_count(usage, output_name),
        cache_read_tokens=_count(usage, in_details, "cached_tokens"),
        cache_write_tokens=cache_write,
        cache_write_1h_tokens=_count(
            usage, in_details, "cache_creation_token_details", "ephemeral_1h_input_tokens"
        ),
        reasoning_tokens=_count(usage, out_details, "reasoning_tokens"),
    )


def _anthropic(usage: Any) -> TokenBuckets:
    cache_read = _count(usage, "cache_read_input_tokens")
    cache_write = _count(usage, "cache_creation_input_tokens")
    return TokenBuckets(
        input_tokens=_count(usage, "input_tokens") + cache_read + cache_write,
        output_tokens=_count(usage, "output_tokens"),
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        cache_write_1h_tokens=_count(usage, "cache_creation", "ephemeral_1h_input_tokens"),
    )


def _gemini(usage: Any) -> TokenBuckets:
    thoughts = _first_count(usage, "thoughtsTokenCount", "thoughts_token_count")
    return TokenBuckets(
        input_tokens=_first_count(usage, "promptTokenCount", "prompt_token_count")
        + _first_count(usage, "toolUsePromptTokenCount", "tool_use_prompt_token_count"),
        output_tokens=_first_count(usage, "candidatesTokenCount", "candidates_token_count")
        + thoughts,
        cache_read_tokens=_first_count(
            usage, "cachedContentTokenCount", "cached_content_token_count"
        ),
        reasoning_tokens=thoughts,
    )


def token_buckets(usage: Any) -> TokenBuckets:
    """The buckets of one call's usage in any of the shapes above (all zero
    for no usage, as after most failures).

    The order of the checks matters: LiteLLM's ``Usage`` built from an
    Anthropic response keeps ``cache_read_input_tokens`` as an attribute
    next to ``prompt_tokens``, which already includes it, so
    ``prompt_tokens`` is looked at before the Anthropic names.
    """
    if usage is None:
        return TokenBuckets()
    if any(
        _field(usage, name) is not None
        for name in ("promptTokenCount", "candidatesTokenCount", "prompt_token_count")
    ):
        return _gemini(usage)
    if _field(usage, "prompt_tokens") is not None:
        return _openai(usage, CHAT_NAMES)
    if _field(usage, "input_tokens_details") is not None:
        return _openai(usage, RESPONSES_NAMES)
    return _anthropic(usage)
