"""The domain's exceptions and every error code the API answers; core.api
maps each exception to one HTTP response (API.md "Conventions")."""

from enum import StrEnum, unique


@unique
class ErrorCode(StrEnum):
    """The ``code`` of an error envelope, of a rejected record's field
    (docs/INGESTION.md "Record error codes") or of a refused term. Each
    member is its own string on the wire: clients match these strings, so a
    code is never renamed."""

    # The request as a whole.
    INVALID = "invalid"
    MALFORMED = "malformed"
    TOO_DEEP = "too_deep"
    OUT_OF_RANGE = "out_of_range"
    NUL_CHARACTER = "nul_character"
    UNKNOWN_PARAMETER = "unknown_parameter"
    BATCH_TOO_LARGE = "batch_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    UNAUTHENTICATED = "unauthenticated"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACCEPTABLE = "not_acceptable"
    THROTTLED = "throttled"
    ERROR = "error"
    CONFLICT = "conflict"
    SUPERSEDED = "superseded"
    BACKDATED_PRICE = "backdated_price"
    INVALID_VERSION = "invalid_version"
    INVALID_FEATURES = "invalid_features"
    NO_ROUTE = "no_route"
    REASON_REQUIRED = "reason_required"
    INVALID_TRANSITION = "invalid_transition"

    # A field of a record, a price row or a contract's terms.
    REQUIRED = "required"
    UNKNOWN_FIELD = "unknown_field"
    INVALID_TYPE = "invalid_type"
    INVALID_LENGTH = "invalid_length"
    INVALID_FORMAT = "invalid_format"
    INVALID_CHOICE = "invalid_choice"
    NAIVE_DATETIME = "naive_datetime"
    TOO_LARGE = "too_large"
    TOO_PRECISE = "too_precise"
    IN_FUTURE = "in_future"
    TOO_EARLY = "too_early"
    OUTSIDE_CONTRACT = "outside_contract"
    CACHE_EXCEEDS_INPUT = "cache_exceeds_input"
    EXCEEDS_CACHE_WRITE = "exceeds_cache_write"
    EXCEEDS_OUTPUT = "exceeds_output"
    UNKNOWN_MODEL = "unknown_model"
    NO_PRICE = "no_price"
    UNKNOWN_ROUTE = "unknown_route"
    SOURCE_NOT_ALLOWED = "source_not_allowed"
    NO_VALUE = "no_value"
    UNKNOWN_ORGANIZATION = "unknown_organization"
    INVALID_ROLE = "invalid_role"
    INVALID_NAME = "invalid_name"
    INVALID_CURRENCY = "invalid_currency"
    INVALID_FX_RATE = "invalid_fx_rate"
    NEGATIVE_AMOUNT = "negative_amount"
    INVALID_PAYOUT_SHARE = "invalid_payout_share"
    SAME_VENDOR_AND_CUSTOMER = "same_vendor_and_customer"
    UNKNOWN_TIMEZONE = "unknown_timezone"
    ENDS_BEFORE_START = "ends_before_start"
    BASELINE_NOT_FRONTIER = "baseline_not_frontier"
    DUPLICATE_ROW = "duplicate_row"
    INVALID_SPEND_LIMIT = "invalid_spend_limit"
    INVALID_SHARE = "invalid_share"
    INVALID_FEATURE_LENGTH = "invalid_feature_length"


class DomainError(Exception):
    """An error the caller can fix or must know of: its status, its code
    (the class's, or a more precise one given when raised), a message and
    optional details."""

    status = 400
    code = ErrorCode.INVALID

    def __init__(self, message: str, *, code: ErrorCode | None = None, details=None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details


class InvalidInput(DomainError):
    status = 400
    code = ErrorCode.INVALID


class NotFound(DomainError):
    status = 404
    code = ErrorCode.NOT_FOUND


class Conflict(DomainError):
    status = 409
    code = ErrorCode.CONFLICT


class UnsupportedMediaType(DomainError):
    status = 415
    code = ErrorCode.UNSUPPORTED_MEDIA_TYPE


class BatchTooLarge(DomainError):
    status = 413
    code = ErrorCode.BATCH_TOO_LARGE
