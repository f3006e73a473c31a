"""The client package's default request featurizer, ``markers-v1``
(DESIGN.md "Decisions are records"): 32 numbers that describe the shape of
a request without carrying its words, so the ledger can learn which
requests are easy without ever seeing prompt text.

Deterministic, standard library only, no model download; characters are
counted by C-speed string methods, never a Python loop over the text
(``python -m bench.featurizer`` measures it). What the numbers reveal:
lengths, the shares of digits, capitals, punctuation and non-ASCII
characters, and counts of a fixed list of markers (code, maths, question
form, list items, a dozen task verbs). None of them can be read back into
the text (docs/LITELLM.md "Privacy of features").
"""

import math

NAME = "markers-v1"
LENGTH = 32

_CODE = ("def ", "class ", "import ", "return ", "function", "=>", "#include", "public ", "::")
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
# One pass of str.translate marks each character's class (digit, ASCII
# capital, whitespace, punctuation, code brace) with a control character;
# counting those is C-speed. Control characters of the text itself are
# marked apart first, so they cannot be miscounted.
_DIGIT, _UPPER, _SPACE, _PUNCT, _BRACE = "\x01", "\x02", "\x03", "\x04", "\x05"
_CLASSES = str.maketrans(
    {chr(c): "\x06" for c in range(1, 6)}
    | dict.fromkeys("0123456789", _DIGIT)
    | dict.fromkeys("ABCDEFGHIJKLMNOPQRSTUVWXYZ", _UPPER)
    | dict.fromkeys(" \t\n\r\f\v", _SPACE)
    | dict.fromkeys(".,:!?'\"()[]<>", _PUNCT)
    | dict.fromkeys("{};", _BRACE)
)
_BULLETS = ("- ", "* ", "\u2022 ")
_QUESTION_STARTS = ("what", "why", "how", "when", "which", "who", "where", "is", "can", "does")


def _log(count: float) -> float:
    return math.log1p(count)


def _list_items(lines: list[str]) -> int:
    """Lines that open a list item: a bullet, or a number and ". " or ") "."""
    items = 0
    for line in lines:
        head = line.lstrip()[:3]
        items += head[:2] in _BULLETS or (head[:1].isdigit() and head[1:3] in (". ", ") "))
    return items


def request_features(text: str) -> list[float]:
    """The ``markers-v1`` features of one request's text: ``LENGTH`` floats."""
    length = len(text)
    lower = text.lower()
    words = lower.split()
    n_words = len(words)
    lines = text.splitlines() or [""]
    per_char = 1.0 / length if length else 0.0
    per_word = 1.0 / n_words if n_words else 0.0
    classes = text.translate(_CLASSES)
    braces = classes.count(_BRACE)
    first = words[0].strip("?,.!:;") if words else ""
    stripped = text.rstrip()
    return [
        _log(length),
        _log(n_words),
        _log(len(lines)),
        _log(max(map(len, lines))),
        classes.count(_DIGIT) * per_char,
        classes.count(_UPPER) * per_char,
        classes.count(_SPACE) * per_char,
        (length - len(text.encode("ascii", "ignore"))) * per_char,
        (classes.count(_PUNCT) + braces) * per_char,
        sum(map(len, words)) * per_word,
        _log(text.count("\n    ") + text.count("\n\t")),
        len(set(words)) * per_word,
        _log(sum(map(str.isdecimal, words))),
        _log(text.count("?")),
        1.0 if stripped.endswith("?") else 0.0,
        1.0 if first in _QUESTION_STARTS else 0.0,
        _log(text.count("```")),
        _log(sum(map(lower.count, _CODE))),
        _log(braces),
        _log(sum(map(text.count, _MATH))),
        _log(sum(map(lower.count, _MATH_WORDS))),
        _log(text.count("=")),
        _log(sum(map(lower.count, _HARD_VERBS))),
        _log(sum(map(lower.count, _EASY_VERBS))),
        _log(_list_items(lines)),
        _log(lower.count("http://") + lower.count("https://")),
        _log(text.count("(")),
        _log(text.count('"') + text.count("'")),
        _log(text.count("<")),
        _log(text.count(". ") + text.count(".\n") + (1 if stripped.endswith(".") else 0)),
        _log(lower.count("step by step") + lower.count("step-by-step")),
        _log(text.count("\n\n")),
    ]
