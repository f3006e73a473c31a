"""Streamed CSV for spreadsheets (API.md "Audit reads": ``?format=csv``).

Rows are written as they are read, a chunk of rows at a time, so an export of
every call of a contract holds one chunk in memory, not the whole list.
Amounts leave as their plain decimal text (``0.0012340000``, never an
exponent), times as RFC 3339 in UTC, JSON fields as compact JSON, nothing as
an empty cell. A text cell a spreadsheet would run as a formula is
neutralized (``formula_safe``, DESIGN.md "Trust between the parties").
"""

import csv
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request

from core.api import check_choice

CHUNK_SIZE = 2000


MEDIA_TYPES = {"csv": "text/csv", "html": "text/html", "text": "text/plain"}

# DESIGN.md "Trust between the parties": a cell starting with one of these
# is a formula to a spreadsheet (tab and carriage return too, which some
# spreadsheets strip before looking at the rest).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A plain number stays a number, a negative amount included.
PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


def export_format(request: Request, formats: Sequence[str]) -> str | None:
    """Which of ``formats`` (keys of MEDIA_TYPES) the request asks for:
    ``?format=`` when given, else an Accept header that prefers it to JSON.
    None means JSON."""
    asked = request.query_params.get("format")
    if asked is not None:
        return asked if asked in formats else None
    offered = ["application/json", *(MEDIA_TYPES[name] for name in formats)]
    preferred = request.get_preferred_type(offered)
    return next((name for name in formats if MEDIA_TYPES[name] == preferred), None)


class ExportNegotiation(DefaultContentNegotiation):
    """For views that answer some ``formats`` themselves (a streamed CSV, an
    HTML page): DRF renders only their JSON, errors included, so an error
    keeps the API's JSON envelope whatever was asked, and DRF does not answer
    ``?format=csv`` with 404 or ``Accept: text/html`` with 406 for want of a
    renderer."""

    formats: tuple[str, ...] = ("csv",)

    def select_renderer(self, request, renderers, format_suffix=None):
        # Refused here, before DRF would answer an unknown ?format= with 404.
        check_choice("format", request.query_params.get("format"), ("json", *self.formats))
        if export_format(request, self.formats) is not None:
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)


def formula_safe(text: str) -> str:
    """``text`` with a leading ``'`` when a spreadsheet would run it as a
    formula; a plain number (``-1.5000000000``) is left as it is."""
    if text.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def cell(value) -> str:
    """One value as its CSV cell, safe to open in a spreadsheet."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return formula_safe(str(value))


class _Echo:
    """csv.writer wants a file; this one hands each written line back."""

    def write(self, line: str) -> str:
        return line


def csv_lines(header: Sequence[str], rows: Iterable[Sequence]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([cell(value) for value in row])


def queryset_rows(queryset: QuerySet, columns: Sequence[str]) -> Iterator[tuple]:
    """``columns`` of every row of ``queryset``, read in chunks (a server-side
    cursor on PostgreSQL)."""
    return queryset.values_list(*columns).iterator(chunk_size=CHUNK_SIZE)


def csv_response(
    *, filename: str, header: Sequence[str], rows: Iterable[Sequence]
) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        csv_lines(header, rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
