"""Property tests: whatever arrives, the answer is a 2xx or a JSON 4xx, and the store holds
exactly the comments that were accepted."""

from __future__ import annotations

import json
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moderation.store.keys import STATUSES

API = "/api/v1/comments"
FIELDS = ["thread", "author", "email", "url", "content", "parent", "homepage"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=10,
)
plausible = {
    "thread": st.sampled_from(["t1", "/blog/post/", "a" * 501, "", " "]) | st.text(max_size=30),
    "author": st.sampled_from(["Ann", "  Bob  ", "", "x" * 246]) | st.text(max_size=30),
    "email": st.sampled_from(["ann@example.org", "bad", "a@b", "", "x" * 250 + "@e.org"])
    | st.emails(),
    "url": st.sampled_from(["", "https://ann.example", "javascript:alert(1)", "http://x"])
    | st.text(max_size=30),
    "content": st.sampled_from(["Nice piece.", "", "   ", "<script>x</script>"])
    | st.text(max_size=200),
    "parent": st.sampled_from(["", "1", "-1", "99999999999999999999", "abc"]) | st.integers(),
    "homepage": st.sampled_from(["", "spam"]) | st.text(max_size=5),
}
comment_like = st.fixed_dictionaries({}, optional={k: v for k, v in plausible.items()})
json_bodies = comment_like.map(json.dumps) | json_values.map(json.dumps) | st.binary(max_size=64)
form_bodies = st.dictionaries(
    st.sampled_from(FIELDS + ["submit", "other"]),
    st.text(max_size=60),
    max_size=8,
).map(lambda d: {k: v.replace("\x00", "") for k, v in d.items()})


def stored_count(services) -> int:
    return sum(services.comments.count(status) for status in STATUSES)


def check_answer(response, accepted: list[int]) -> None:
    assert response.status_code < 500, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.get_json()
    if response.status_code == 201:
        assert body["status"] in {"published", "pending"}
        assert "email" not in body
        accepted.append(body["id"])
    else:
        assert 400 <= response.status_code < 500
        assert set(body) == {"error"} and body["error"]["code"] and body["error"]["message"]


def test_arbitrary_json_bodies(client, services):
    accepted: list[int] = []

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(body=json_bodies)
    def run(body):
        check_answer(client.post(API, data=body, content_type="application/json"), accepted)

    run()
    assert stored_count(services) == len(accepted)
    for cid in accepted:
        record = services.comments.get(cid)
        assert record["status"] in STATUSES and record["email_hash"] and record["content"].strip()


def test_arbitrary_form_bodies(client, services):
    accepted: list[int] = []

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(form=form_bodies | comment_like.map(lambda d: {k: str(v) for k, v in d.items()}))
    def run(form):
        check_answer(client.post(API, data=form), accepted)

    run()
    assert stored_count(services) == len(accepted)


def test_arbitrary_thread_queries(client):
    @settings(max_examples=100, deadline=None)
    @given(
        thread=st.text(min_size=1, max_size=40).filter(lambda t: "\x00" not in t),
        limit=st.one_of(st.integers(), st.text(max_size=5)),
        cursor=st.one_of(st.none(), st.text(max_size=25)),
    )
    def run(thread, limit, cursor):
        params = {"limit": limit, **({"cursor": cursor} if cursor is not None else {})}
        path = f"/api/v1/threads/{quote(thread, safe='')}/comments"
        response = client.get(path, query_string=params)
        assert response.status_code in {200, 404, 422}, response.get_data(as_text=True)
        assert response.headers["Content-Type"].startswith("application/json")

    run()
