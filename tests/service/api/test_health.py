def test_healthz_and_docs(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok" and r.json()["models"]["sentiment"] == "sentiment@test"
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert {"/v1/messages", "/v1/classify", "/healthz"} <= set(spec["paths"])
