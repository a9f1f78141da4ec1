"""The baseline for bench_submission.py: a bare Flask app with one JSON echo endpoint.

POST /api/v1/comments parses the JSON body and answers it back with 201. It sits on the same
path as the real endpoint so the load generator (and its Lua script) is byte-for-byte the
same for both targets; what differs is only what the service does with the comment.

Served by gunicorn exactly like `moderation serve` serves the real app (preloaded, same
worker count and worker class, same timeouts); see bench_submission.py.
"""

from __future__ import annotations

from flask import Flask, request

app = Flask(__name__)


@app.post("/api/v1/comments")
def echo() -> tuple[object, int]:
    return request.get_json(), 201
