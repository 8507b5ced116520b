"""/openapi.json is valid OpenAPI and documents every endpoint, the hand-routed ingest ones included."""

from __future__ import annotations

from openapi_spec_validator import validate


def test_the_schema_is_valid_and_documents_the_ingest_endpoints(client):
    schema = client.get("/openapi.json").json()
    validate(schema)
    report = schema["paths"]["/api/v1/logs/report"]["post"]
    assert report["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ReportIn"
    }
    assert {"project_id", "environment", "level", "error"} <= set(
        schema["components"]["schemas"]["ReportIn"]["required"]
    )
    answers = report["responses"]["200"]["content"]["application/json"]["schema"]["anyOf"]
    assert {a["$ref"].rsplit("/", 1)[1] for a in answers} == {"ReportAccepted", "ReportDeduplicated"}
    assert {"413", "422", "503"} <= set(report["responses"])
    for path in ("/api/{project_id}/envelope/", "/api/{project_id}/store/"):
        operation = schema["paths"][path]["post"]
        assert operation["parameters"][0]["name"] == "project_id"
        assert {"401", "403", "413", "429"} <= set(operation["responses"])
    assert "/api/v1/bugs" in schema["paths"] and "/api/v1/projects" in schema["paths"]
