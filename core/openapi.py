"""The error answers of API.md "Conventions", in the published OpenAPI
schema of every operation: the one envelope, under each status the
exception handler (core.api) can give."""

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {},
            },
        }
    },
}

# Every operation: bad input (query or path), no or bad key, outside the
# caller's reach, an Accept it cannot answer, too many requests.
COMMON_ERRORS = {
    "400": "bad input",
    "401": "no key, or an unknown, revoked or expired key",
    "404": "not found, or outside the caller's reach",
    "406": "no representation matching Accept",
    "429": "too many requests",
}
# Operations with a request body: a conflict, a body over the size limit,
# a content type the operation does not read.
BODY_ERRORS = {
    "409": "conflict with what is stored",
    "413": "the body, or the batch, is too large",
    "415": "unsupported content type",
}


def error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: the error envelope as the
    ``Error`` component, referenced by each error status of each operation
    that does not describe it already."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            errors = COMMON_ERRORS | (BODY_ERRORS if method in ("post", "put", "patch") else {})
            responses = operation.setdefault("responses", {})
            for status, description in errors.items():
                responses.setdefault(status, {"description": description, "content": reference})
    return result
