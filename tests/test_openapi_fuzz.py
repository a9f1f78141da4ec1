"""API fuzzing from the OpenAPI document, over real HTTP, with schemathesis.

Every operation gets schema-valid and schema-violating requests; each answer must be a
documented status with a body matching the documented schema, and never a 5xx.
(Driven through schemathesis' Python API: its pytest fixture loader does not run on pytest 9.)
"""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

# An oversized body is rejected with 413, a wrong content type with 415 and a missing token
# with 401: all are rejections.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": ["400", "401", "404", "405", "413", "415", "422"]
            }
        }
    }
)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_conforms_to_its_document(live, services, mode):
    schema = schemathesis.openapi.from_url(live + "/api/openapi.json", config=CONFIG)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {
        "POST /api/v1/comments",
        "GET /api/v1/threads/{thread}/comments",
        "GET /healthz",
    }
    session = requests.Session()
    token, _ = services.tokens.create("fuzzer", "admin")
    auth = {"Authorization": f"Bearer {token}"}
    for operation in operations:
        takes_input = any(
            len(part) for part in (operation.path_parameters, operation.query, operation.body)
        )
        if mode is GenerationMode.NEGATIVE and not takes_input:
            continue  # nothing to get wrong in a request without parameters

        @settings(
            max_examples=60,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case):
            response = case.call_and_validate(
                base_url=live,
                session=session,
                # Negative cases keep their own (missing or broken) Authorization header.
                headers=auth if mode is GenerationMode.POSITIVE else None,
                excluded_checks=[positive_data_acceptance],
            )
            assert response.status_code < 500
            if mode is GenerationMode.POSITIVE and response.status_code >= 400:
                named = set(case.path_parameters or {}) & {
                    "comment_id",
                    "version",
                    "job_id",
                    "site_id",
                }
                body = case.body if isinstance(case.body, dict) else {}
                site_named = (case.query or {}).get("site") or body.get("site")
                if response.status_code == 404 and (named or site_named):
                    return  # a made-up id names nothing (no comment, claim, model, job, site)
                if case.path.startswith("/api/v1/admin/sites") and response.status_code in (
                    409,
                    422,
                ):
                    # A site id taken already, or what the site model checks beyond the
                    # schema: an origin's exact form, a known language, a valid network,
                    # publish_below not above spam_above.
                    assert response.json()["error"]["message"], response.text
                    return
                if response.status_code == 409 and case.path.startswith("/api/v1/admin/model"):
                    return  # a retrain is running already, or there is nothing to roll back to
                # The rules a schema cannot state: a parent must be an existing comment of
                # the same thread, a cursor must come from a page of the same order, and a
                # claim names ids or asks for the next ones, not both.
                # Schema-valid data may fail only on those.
                assert response.status_code == 422, response.text
                fields = set(response.json()["error"]["fields"])
                assert fields in ({"parent"}, {"cursor"}, {"ids"}), (response.text, case.body)

        run()
