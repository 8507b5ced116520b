"""The baseline for bench/ingest.py: a FastAPI app whose one endpoint reads the body and answers a small JSON.

It accepts POST on every path the real server is loaded on (the REST report route and the Sentry envelope
route), so the same wrk script and the same request bodies run against both; the ratio between the two is the
share of the HTTP stack's capacity that Log Center keeps once it validates, fingerprints and commits a report.
Run it exactly as the bench does:  python -m uvicorn bench.bare_app:app --host 127.0.0.1 --port 8790
"""

from __future__ import annotations

from fastapi import FastAPI, Request

app = FastAPI(title="bench bare endpoint", docs_url=None, redoc_url=None, openapi_url=None)


@app.post("/api/v1/logs/report")
async def report(request: Request) -> dict[str, object]:
    body = await request.body()
    return {"message": "Log reported", "id": len(body)}


@app.post("/api/{project_id}/envelope/")
async def envelope(project_id: int, request: Request) -> dict[str, object]:
    body = await request.body()
    return {"id": f"{len(body):032x}"}
