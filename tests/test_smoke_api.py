from decimal import Decimal


def test_vendor_ingests_a_call_and_reads_it_back_costed(vendor_client, contract):
    body = {
        "records": [
            {
                "external_id": "c-1",
                "occurred_at": "2026-11-03T09:15:00Z",
                "model": "gpt-4o-mini",
                "task_type": "code_review",
                "task_ref": "PR-812",
                "input_tokens": 1200,
                "output_tokens": 300,
                "cache_read_tokens": 1000,
            }
        ]
    }
    response = vendor_client.post("/api/v1/contracts/acme-agent/calls", body, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}

    listed = vendor_client.get("/api/v1/contracts/acme-agent/calls").json()
    assert listed["next"] is None
    assert Decimal(listed["results"][0]["cost_usd"]) == Decimal("0.0002850000")
    assert listed["results"][0]["cost_usd"] == "0.0002850000"
    assert listed["results"][0]["tier"] == "light"
