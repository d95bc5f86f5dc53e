import json
import logging

from prometheus_client.parser import text_string_to_metric_families

from service.observability import JsonFormatter
from tests.conftest import message


def families(client) -> dict:
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {f.name: f for f in text_string_to_metric_families(r.text)}


def test_request_id_is_echoed_or_made(client):
    r = client.get("/healthz", headers={"x-request-id": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    made = client.get("/healthz").headers["x-request-id"]
    assert len(made) == 32 and made != "abc-123"


def test_metrics_scrape_cleanly_and_count(client):
    client.post("/v1/messages", json={"messages": [message(1), message(2)]})
    client.post("/v1/messages", json={"messages": [message(2)]})
    client.get("/v1/messages/999")
    f = families(client)
    assert f["pulse_messages_ingested"].samples[0].value == 2
    assert f["pulse_messages_duplicate"].samples[0].value == 1
    routes = {(s.labels["route"], s.labels["status"]) for s in f["pulse_http_requests"].samples
              if s.name.endswith("_total")}
    assert ("/v1/messages", "200") in routes and ("/v1/messages/{message_id}", "404") in routes
    models = {s.labels["component"] for s in f["pulse_model_info"].samples}
    assert {"embedder", "sentiment", "intent", "abuse", "spam"} <= models
    assert "pulse_batcher_queue_depth" in f


def test_json_log_lines_carry_no_message_text():
    record = logging.LogRecord("pulse.http", logging.INFO, __file__, 1, "request", None, None)
    record.request_id, record.route, record.status = "r1", "/v1/messages", 200
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "r1" and line["route"] == "/v1/messages"
    assert set(line) <= {"time", "level", "logger", "message", "request_id", "route", "method",
                         "status", "ms"}
