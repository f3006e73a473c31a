"""The OpenAPI schema describes the API (API.md: "/api/schema/ must describe
all of it") and is valid OpenAPI."""

import io

import yaml
from django.core.management import call_command

API_MD_PATHS = [
    "/api/v1/contracts",
    "/api/v1/contracts/{code}",
    "/api/v1/contracts/{code}/calls",
    "/api/v1/contracts/{code}/outcomes",
    "/api/v1/contracts/{code}/otlp/v1/traces",
    "/api/v1/contracts/{code}/statements",
    "/api/v1/contracts/{code}/statements/{number}",
    "/api/v1/contracts/{code}/statements/{number}/digest-input",
    "/api/v1/contracts/{code}/drift",
    "/api/v1/contracts/{code}/journal",
    "/api/v1/reprice",
    "/api/v1/models",
    "/api/v1/models/{name}/prices",
    "/api/v1/organizations",
]


def test_schema_is_valid_without_warnings_and_has_every_api_md_path(db):
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = yaml.safe_load(out.getvalue())
    assert set(API_MD_PATHS) <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_swagger_ui_is_served_from_local_assets(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    assert b"cdn" not in page.content.lower()
    assert b"swagger-ui" in page.content
