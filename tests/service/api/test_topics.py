from __future__ import annotations

import time

GROUPS = {
    "payment": ["payment failed at checkout with card {}", "card payment declined again order {}",
                "checkout payment error code {} when paying"],
    "darkmode": ["please add dark mode to the app {}", "dark mode request for night reading {}",
                 "would love a dark theme option {}"],
    "login": ["登录失败 验证码收不到 {}", "验证码一直收不到 无法登录 {}", "登录时验证码不来 {}"],
}


def seed(client, day="2026-11-10"):
    msgs, i = [], 0
    for name, templates in GROUPS.items():
        for k in range(36):
            i += 1
            msgs.append({"community": "t", "channel": "c", "author_id": f"a{k % 9}",
                         "external_id": f"{name}-{k}", "text": templates[k % 3].format(k),
                         "ts": f"{day}T{k % 24:02d}:00:00Z"})
    for start in range(0, len(msgs), 50):
        assert client.post("/v1/messages", json={"messages": msgs[start:start + 50]}).status_code == 200


def recluster(client, **body):
    r = client.post("/v1/topics/recluster", json={"community": "t", "until": "2026-11-20T00:00:00Z"}
                    | body)
    assert r.status_code == 202, r.text
    run = r.json()
    for _ in range(200):
        run = client.get(f"/v1/topics/runs/{run['id']}").json()
        if run["status"] != "running":
            return run
        time.sleep(0.05)
    raise AssertionError("recluster did not finish")


def test_recluster_names_topics_and_assigns_messages(client):
    seed(client)
    run = recluster(client)
    assert run["status"] == "done" and run["n_messages"] == 108
    topics = client.get("/v1/topics", params={"community": "t"}).json()["items"]
    assert len(topics) >= 3
    words = {w for t in topics for w in t["keywords"]}
    assert {"payment", "dark"} <= words and ("验证码" in words or "登录" in words)
    top = topics[0]
    assert top["size"] >= 10 and top["members"] >= 3 and top["quotes"]
    assert top["lineage"][0]["event"] == "new" and sum(top["intent_mix"].values()) == top["size"]
    page = client.get(f"/v1/topics/{top['id']}/messages", params={"limit": 5}).json()
    assert len(page["items"]) == 5 and all(m["topic_id"] == top["id"] for m in page["items"])
    detail = client.get(f"/v1/topics/{top['id']}").json()
    assert sum(detail["per_day"].values()) == top["size"]


def test_new_message_is_assigned_at_ingest_and_ids_stay_stable(client):
    seed(client)
    recluster(client)
    before = {t["id"]: set(t["keywords"]) for t in
              client.get("/v1/topics", params={"community": "t"}).json()["items"]}
    r = client.post("/v1/messages", json={"message": {
        "community": "t", "channel": "c", "author_id": "z", "external_id": "new-1",
        "text": "payment failed at checkout with card 7", "ts": "2026-11-11T00:00:00Z"}})
    mid = r.json()["items"][0]["id"]
    topic_id = client.get(f"/v1/messages/{mid}").json()["topic_id"]
    assert topic_id in before and "payment" in before[topic_id]
    recluster(client)  # same data: every topic continues under its id
    after = client.get("/v1/topics", params={"community": "t"}).json()["items"]
    assert {t["id"] for t in after} == set(before)
    assert all(t["lineage"][-1]["event"] in ("continued", "grown", "shrunk") for t in after)


def test_search_by_text_and_by_message(client):
    seed(client)
    hits = client.get("/v1/search", params={"community": "t", "text": "dark mode please"}).json()
    assert hits["items"][0]["message"]["external_id"].startswith("darkmode")
    first = hits["items"][0]["message"]["id"]
    again = client.get("/v1/search", params={"community": "t", "message_id": first}).json()
    assert all(h["message"]["id"] != first for h in again["items"])
    assert again["items"][0]["message"]["external_id"].startswith("darkmode")


def test_topic_errors(client):
    assert client.get("/v1/topics/12345").status_code == 404
    assert client.get("/v1/topics/runs/999").status_code == 404
    assert client.get("/v1/search", params={"community": "t"}).status_code == 422
    assert client.get("/v1/search", params={"community": "t", "message_id": 42}).status_code == 404
    r = client.post("/v1/topics/recluster", json={"community": "t", "days": 0})
    assert r.status_code == 422
    assert client.get("/v1/topics", params={"community": "empty"}).json()["items"] == []
