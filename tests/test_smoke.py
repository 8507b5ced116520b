from tests.factories import report_payload


def test_report_then_list(client, admin_headers):
    first = client.post("/api/v1/logs/report", json=report_payload())
    assert first.status_code == 200, first.text
    assert first.json() == {"message": "Log reported", "id": first.json()["id"]}
    again = client.post("/api/v1/logs/report", json=report_payload())
    assert again.json() == {"message": "Log deduplicated", "id": first.json()["id"], "status": "NEW"}
    bugs = client.get("/api/v1/bugs", headers=admin_headers).json()
    assert bugs["total"] == 1 and bugs["bugs"][0]["occurrence_count"] == 2
