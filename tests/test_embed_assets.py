"""The widget's script and stylesheet: served with short caching and ETags."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("path", "mimetype"), [("/embed.js", "text/javascript"), ("/embed.css", "text/css")]
)
def test_assets_are_served_with_short_caching_and_an_etag(live, http, path, mimetype):
    r = http.get(live + path)
    assert r.status_code == 200
    assert r.headers["Content-Type"].split(";")[0] == mimetype
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    cache = r.headers["Cache-Control"]
    assert "public" in cache
    assert 60 <= int(cache.split("max-age=")[1].split(",")[0]) <= 3600
    etag = r.headers["ETag"]
    again = http.get(live + path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""


def test_script_finds_its_origin_and_uses_a_shadow_root(live, http):
    script = http.get(live + "/embed.js").text
    assert "document.currentScript" in script
    assert 'attachShadow({ mode: "open" })' in script
    # Only the server's escaped content is parsed as HTML, and only through a template.
    assert script.count(".innerHTML") == 1
    assert "template.innerHTML" in script
    assert "insertAdjacentHTML" not in script and "outerHTML" not in script


def test_stylesheet_resets_the_host(live, http):
    css = http.get(live + "/embed.css").text
    assert ":host {\n  all: initial;" in css
    assert ":focus-visible" in css
