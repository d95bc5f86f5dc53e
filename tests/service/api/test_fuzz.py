"""Property-based fuzzing of the whole OpenAPI surface (schemathesis).

Every operation of the schema gets generated requests, valid and invalid (wrong types,
missing fields, out-of-range numbers, undecodable bodies), sent with an admin key to the
app on a temporary database with the fake pipeline. Each answer must not be a 5xx, its
status code and content type must be declared for the operation, and its body must match
the declared schema (errors included: ErrorBody). Hypothesis runs derandomized, so CI
generates the same cases every time; the count per operation and status goes to
test-artifacts/fuzz.json.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.python.asgi import shutdown_lifespans

from service.app import create_app
from service.auth.keys import create_key
from service.pipeline import Pipeline
from service.settings import Settings
from service.store import Store
from tests.conftest import message
from tests.fakes import fake_classifier

# Per operation (about 35): under a minute on a busy 2-core machine. A deeper hunt:
# PULSE_FUZZ_EXAMPLES=1000 PULSE_FUZZ_SEED=random pytest tests/service/api/test_fuzz.py
MAX_EXAMPLES = int(os.environ.get("PULSE_FUZZ_EXAMPLES", "40"))
DERANDOMIZE = os.environ.get("PULSE_FUZZ_SEED", "fixed") == "fixed"
ARTIFACT = Path(__file__).parents[3] / "test-artifacts" / "fuzz.json"
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.response_headers_conformance,
]

# The schema the app serves at /openapi.json (create_app touches no file or model).
schema = schemathesis.openapi.from_dict(create_app(Settings(db_path="unused.db")).openapi())

SEEN: dict[str, Counter] = defaultdict(Counter)  # operation -> status code -> cases


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):
    """One app for all operations, seeded so that ids 1, 2, 3... exist (the fuzzer favours
    small integers) and reads find rows: messages, queue items, a recluster run, a
    subscription. No alert worker: nothing leaves the machine."""
    tmp = tmp_path_factory.mktemp("fuzz")
    config = Settings(db_path=tmp / "pulse.db", max_batch=50, max_text_chars=500,
                      max_body_bytes=200_000, rate_limit_rps=10_000, rate_limit_burst=10_000,
                      alerts_enabled=False)
    store = Store(config.db_path)
    headers = {"Authorization": f"Bearer {create_key(store, 'fuzzer', 'admin', ['*'])[0]}"}
    app = create_app(config, pipeline=Pipeline(fake_classifier(), store))
    with TestClient(app, headers=headers) as client:
        seed(client)
    yield app, headers
    shutdown_lifespans()  # the fuzzer's client started the app's lifespan: stop its workers
    write_report()


def seed(client: TestClient) -> None:
    texts = ["the app crashes on login", "how do I reset my password?", "buy cheap followers "
             "now!!! http://spam.example", "登录的时候闪退了", "thanks, it works great"]
    batch = [message(i, text=f"{texts[i % len(texts)]} ({i})") for i in range(40)]
    assert client.post("/v1/messages", json={"messages": batch}).status_code == 200
    assert client.get("/v1/queue", params={"community": "acme"}).status_code == 200
    run = client.post("/v1/topics/recluster", json={"community": "acme", "days": 365,
                                                    "until": "2026-12-01T00:00:00Z"}).json()
    for _ in range(100):
        if client.get(f"/v1/topics/runs/{run['id']}").json()["status"] != "running":
            break
        time.sleep(0.05)
    assert client.post("/v1/alerts/subscriptions", json={
        "community": "acme", "events": ["queue_item"], "url": "http://127.0.0.1:9/hook",
    }).status_code == 201


def write_report() -> None:
    per_op = {op: {"cases": sum(c.values()), "statuses": dict(sorted(c.items()))}
              for op, c in sorted(SEEN.items())}
    report = {"tool": f"schemathesis {schemathesis.__version__}", "max_examples": MAX_EXAMPLES,
              "derandomize": DERANDOMIZE, "checks": [c.__name__ for c in CHECKS],
              "operations": len(per_op), "cases": sum(o["cases"] for o in per_op.values()),
              "per_operation": per_op}
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nfuzz: {report['cases']} cases over {report['operations']} operations "
          f"-> {ARTIFACT}")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=DERANDOMIZE, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_conforms(case, fuzz_app):
    app, headers = fuzz_app
    response = case.call(app=app, headers=headers)
    SEEN[f"{case.operation.method.upper()} {case.operation.path}"][response.status_code] += 1
    case.validate_response(response, checks=CHECKS, headers=headers)



def test_every_operation_declares_its_errors():
    """What the fuzzer cannot reach with an admin key and no rate limit: every operation
    behind a key declares 401, 403, 429 and 503 with the error body (and Retry-After)."""
    for path, operations in schema.raw_schema["paths"].items():
        for method, operation in operations.items():
            codes = {"503"} if path == "/healthz" else {"401", "403", "422", "429", "503"}
            declared = operation["responses"]
            assert codes <= set(declared), (method, path)
            for code in codes:
                body = declared[code]["content"]["application/json"]["schema"]
                assert body == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, code)
            for code in codes & {"429", "503"}:
                assert "Retry-After" in declared[code]["headers"], (method, path, code)


def test_unauthorized_and_rate_limited_answers_match_the_error_body(settings, pipeline, make_key):
    from service.api.errors import ErrorBody

    settings = settings.model_copy(update={"rate_limit_rps": 0.001, "rate_limit_burst": 1})
    with TestClient(create_app(settings, pipeline=pipeline)) as client:
        denied = client.get("/v1/messages")
        assert denied.status_code == 401 and ErrorBody.model_validate(denied.json())
        client.headers["Authorization"] = f"Bearer {make_key('bot')}"
        assert client.post("/v1/classify", json={"text": "hello"}).status_code == 200
        limited = client.post("/v1/classify", json={"text": "hello"})
        assert limited.status_code == 429 and ErrorBody.model_validate(limited.json())
        assert int(limited.headers["Retry-After"]) >= 1
