"""The client package's default request featurizer, ``markers-v1``
(DESIGN.md "Decisions are records"): 32 numbers that describe the shape of
a request without carrying its words, so the ledger can learn which
requests are easy without ever seeing prompt text.

Deterministic, standard library only, no model download; a few tens of
microseconds for a request of a few kilobytes. What the numbers reveal:
lengths, the shares of digits, capitals, punctuation and non-ASCII
characters, and counts of a fixed list of markers (code, maths, question
form, list items, a dozen task verbs). None of them can be read back into
the text (docs/LITELLM.md "Privacy of features").
"""

import math
import re

NAME = "markers-v1"
LENGTH = 32

_WORD = re.compile(r"\w+")
_NUMBER = re.compile(r"\b\d+(?:[.,]\d+)?\b")
_URL = re.compile(r"https?://")
_LIST_ITEM = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s", re.MULTILINE)
_CODE = ("def ", "class ", "import ", "return ", "function", "=>", "#include", "public ", "::")
_CODE_CHARS = "{};"
_MATH = ("\\frac", "\\sum", "\\int", "sqrt", "^", "\u222b", "\u2211", "\u2264", "\u2265")
_MATH_WORDS = ("prove", "theorem", "equation", "integral", "derivative", "solve", "probability")
_HARD_VERBS = (
    "explain",
    "analyze",
    "analyse",
    "optimize",
    "debug",
    "design",
    "implement",
    "refactor",
    "derive",
    "compare",
    "why",
)
_EASY_VERBS = (
    "summarize",
    "summarise",
    "translate",
    "classify",
    "list",
    "extract",
    "rewrite",
    "format",
    "tag",
)
_QUESTION_STARTS = ("what", "why", "how", "when", "which", "who", "where", "is", "can", "does")


def _log(count: float) -> float:
    return math.log1p(count)


def request_features(text: str) -> list[float]:
    """The ``markers-v1`` features of one request's text: ``LENGTH`` floats."""
    length = len(text)
    lower = text.lower()
    words = _WORD.findall(lower)
    n_words = len(words)
    lines = text.splitlines() or [""]
    per_char = 1.0 / length if length else 0.0
    digits = sum(c.isdigit() for c in text)
    upper = sum(c.isupper() for c in text)
    spaces = sum(c.isspace() for c in text)
    non_ascii = sum(ord(c) > 127 for c in text)
    punctuation = sum(c in ".,;:!?'\"()[]{}<>" for c in text)
    word_lengths = [len(w) for w in words]
    first = words[0] if words else ""
    stripped = text.rstrip()
    return [
        _log(length),
        _log(n_words),
        _log(len(lines)),
        _log(max(len(line) for line in lines)),
        digits * per_char,
        upper * per_char,
        spaces * per_char,
        non_ascii * per_char,
        punctuation * per_char,
        (sum(word_lengths) / n_words) if n_words else 0.0,
        (sum(w > 12 for w in word_lengths) / n_words) if n_words else 0.0,
        (len(set(words)) / n_words) if n_words else 0.0,
        _log(len(_NUMBER.findall(text))),
        _log(text.count("?")),
        1.0 if stripped.endswith("?") else 0.0,
        1.0 if first in _QUESTION_STARTS else 0.0,
        _log(text.count("```")),
        _log(sum(lower.count(marker) for marker in _CODE)),
        _log(sum(text.count(c) for c in _CODE_CHARS)),
        _log(sum(text.count(marker) for marker in _MATH)),
        _log(sum(lower.count(word) for word in _MATH_WORDS)),
        _log(text.count("=")),
        _log(sum(lower.count(word) for word in _HARD_VERBS)),
        _log(sum(lower.count(word) for word in _EASY_VERBS)),
        _log(len(_LIST_ITEM.findall(text))),
        _log(len(_URL.findall(lower))),
        _log(text.count("(")),
        _log(text.count('"') + text.count("'")),
        _log(text.count("<")),
        _log(text.count(". ") + text.count(".\n") + (1 if stripped.endswith(".") else 0)),
        _log(lower.count("step by step") + lower.count("step-by-step")),
        _log(text.count("\n\n")),
    ]
