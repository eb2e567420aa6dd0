"""GET /openapi.json documents every route and every error; GET /docs is a page over it."""
import json
import os
import re
import shutil
import subprocess

import pytest
from openapi_spec_validator import validate

from conftest import needs

# Flask endpoints that are the documentation itself, the web page (/ui, and / sending there) or static
# files, not API operations.
UNDOCUMENTED_ENDPOINTS = re.compile(r"^(static|api-docs\..*|swagger_ui\..*|ui\..*|root)$")  # docs, the web page
IGNORED_METHODS = {"HEAD", "OPTIONS"}
ENVELOPE_REF = "#/components/schemas/ErrorEnvelope"

# The error statuses each operation of the contract can answer (a documented superset is fine).
BODY_ERRORS = {400, 413, 415, 422}
CONTRACT_ERRORS = {
    ("post", "/token"): {401} | BODY_ERRORS,
    ("get", "/me"): {401},
    ("get", "/accounts"): {401, 403},
    ("post", "/accounts"): {401, 403, 409} | BODY_ERRORS,
    ("delete", "/accounts/{account_id}"): {401, 403, 404},
    ("get", "/workspaces"): {401},
    ("get", "/workspaces/{fullname}"): {401, 404},
    ("put", "/workspaces/{fullname}"): {401, 403, 409} | BODY_ERRORS,
    ("delete", "/workspaces/{fullname}"): {401, 403, 404},
    ("get", "/workspaces/{fullname}/acl"): {401, 404},
    ("post", "/workspaces/{fullname}/acl"): {401, 403, 404} | BODY_ERRORS,
    ("put", "/workspaces/{fullname}/acl/{entryId}"): {401, 403, 404, 409} | BODY_ERRORS,
    ("delete", "/workspaces/{fullname}/acl/{entryId}"): {401, 403, 404, 409},
}


def contract_cases():
    for (method, path), statuses in CONTRACT_ERRORS.items():
        yield pytest.param(method, "/api/v2" + path, statuses, id=f"{method.upper()} /api/v2{path}")


@pytest.fixture
def spec(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in ("get", "put", "post", "delete", "patch"):
                yield method, path, operation


def resolve(spec, node):
    while "$ref" in node:
        *_, section, name = node["$ref"].split("/")
        node = spec["components"][section][name]
    return node


def openapi_path(rule):
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def test_openapi_document_is_a_valid_openapi_3_document(spec):
    assert spec["openapi"].startswith("3.")
    validate(spec)


def test_openapi_document_needs_no_credentials(client):
    assert client.get("/openapi.json").status_code == 200


def documented_path(rule):
    """Where a URL rule is documented: the /api alias under /api/v2, everything else as it is."""
    path = openapi_path(rule.rule)
    if rule.endpoint.split(".")[0].endswith("-alias"):
        assert path.startswith("/api/") and not path.startswith("/api/v2/"), rule.rule
        return "/api/v2/" + path.removeprefix("/api/")
    return path


def test_every_url_rule_of_the_app_is_documented(app, spec):
    missing = []
    for rule in app.url_map.iter_rules():
        if UNDOCUMENTED_ENDPOINTS.match(rule.endpoint):
            continue
        documented = spec["paths"].get(documented_path(rule), {})
        for method in sorted(rule.methods - IGNORED_METHODS):
            if method.lower() not in documented:
                missing.append(f"{method} {rule.rule}")
    assert missing == []


def test_every_route_of_the_contract_is_served_under_both_prefixes_and_documented_once(app, spec):
    served = {(method.lower(), openapi_path(rule.rule)) for rule in app.url_map.iter_rules() for method in rule.methods}
    for method, path in CONTRACT_ERRORS:
        assert method in spec["paths"].get("/api/v2" + path, {}), f"{method.upper()} /api/v2{path}"
        assert "/api" + path not in spec["paths"], f"/api{path} is documented twice"
        assert {(method, "/api/v2" + path), (method, "/api" + path)} <= served, path
    assert "/api/v2" in spec["info"]["description"] and "`/api`" in spec["info"]["description"]


def is_flavor(path):
    return path.startswith("/flavors/")


def test_every_error_response_of_every_operation_is_the_envelope(spec):
    """The native operations' errors are the envelope; a flavor's are its service's own shape (never the envelope)."""
    wrong = []
    for method, path, operation in operations(spec):
        errors = [code for code in operation["responses"] if code == "default" or int(code) >= 400]
        if not errors:
            wrong.append(f"{method.upper()} {path}: no error response documented")
        for code in errors:
            response = resolve(spec, operation["responses"][code])
            schemas = [media.get("schema", {}) for media in response.get("content", {}).values()]
            if is_flavor(path):
                if not schemas or any(not schema or schema.get("$ref") == ENVELOPE_REF for schema in schemas):
                    wrong.append(f"{method.upper()} {path} {code}: {schemas}")
            elif schemas != [{"$ref": ENVELOPE_REF}]:
                wrong.append(f"{method.upper()} {path} {code}: {schemas}")
    assert wrong == []


def test_the_envelope_schema_is_error_with_message_and_details(spec):
    envelope = spec["components"]["schemas"]["ErrorEnvelope"]
    assert envelope["required"] == ["error"]
    body = resolve(spec, envelope["properties"]["error"])
    assert set(body["required"]) == {"message", "details"}
    assert body["properties"]["message"]["type"] == "string"
    assert body["properties"]["details"]["type"] == "object"


@pytest.mark.parametrize("method, path, statuses", list(contract_cases()))
def test_each_operation_documents_the_errors_the_contract_gives_it(spec, method, path, statuses):
    documented = {int(code) for code in spec["paths"][path][method]["responses"] if code != "default"}
    assert statuses - documented == set()


def test_operations_needing_credentials_declare_them_and_public_ones_do_not(spec):
    assert spec["security"] == [{"bearerAuth": []}, {"basicAuth": []}]
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["basicAuth"] == {"type": "http", "scheme": "basic"}
    public = set()
    for method, path, operation in operations(spec):
        if operation.get("security") == []:
            public.add(f"{method.upper()} {path}")
        else:
            assert "401" in operation["responses"], f"{method.upper()} {path}"
    # the contract's list of what needs no credentials
    assert {"POST /api/v2/token", "GET /healthz", "GET /readyz"} <= public
    assert public <= {"POST /api/v2/token", "GET /healthz", "GET /readyz",
                      "GET /openapi.json", "GET /avatars/{fileName}"}


def test_no_content_answers_are_documented_without_a_body(spec):
    for path in ("/api/v2/workspaces/{fullname}/acl", "/api/v2/workspaces/{fullname}/acl/{entryId}"):
        method = "post" if path.endswith("/acl") else "put"
        assert "content" not in spec["paths"][path][method]["responses"]["204"]


def test_docs_page_is_html_over_openapi_json(client):
    response = client.get("/docs", follow_redirects=True)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "<html" in page.lower()
    assert '"/openapi.json"' in page
    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert scripts
    for script in scripts:  # served locally, no CDN
        assert client.get(script).status_code == 200


OPERATION_IDS = {
    ("post", "/api/v2/token"): "createToken",
    ("get", "/api/v2/me"): "getMe",
    ("get", "/api/v2/accounts"): "listAccounts",
    ("post", "/api/v2/accounts"): "createAccount",
    ("delete", "/api/v2/accounts/{account_id}"): "deleteAccount",
    ("get", "/api/v2/tokens"): "listTokens",
    ("post", "/api/v2/tokens"): "createAccessToken",
    ("delete", "/api/v2/tokens"): "revokeOtherTokens",
    ("delete", "/api/v2/sessions"): "endMySessions",
    ("delete", "/api/v2/tokens/{token_id}"): "revokeToken",
    ("get", "/api/v2/workspaces"): "listWorkspaces",
    ("get", "/api/v2/workspaces/{fullname}"): "getWorkspace",
    ("put", "/api/v2/workspaces/{fullname}"): "upsertWorkspace",
    ("delete", "/api/v2/workspaces/{fullname}"): "deleteWorkspace",
    ("post", "/api/v2/workspaces/{fullname}/archive"): "archiveWorkspace",
    ("post", "/api/v2/workspaces/{fullname}/unarchive"): "unarchiveWorkspace",
    ("post", "/api/v2/workspaces/{fullname}/restore"): "restoreWorkspace",
    ("get", "/api/v2/workspaces/{fullname}/acl"): "listMembers",
    ("post", "/api/v2/workspaces/{fullname}/acl"): "joinWorkspace",
    ("put", "/api/v2/workspaces/{fullname}/acl/{entryId}"): "changeMemberLevel",
    ("delete", "/api/v2/workspaces/{fullname}/acl/{entryId}"): "removeMember",
    ("post", "/api/v2/workspaces/{fullname}/avatar"): "uploadAvatar",
    ("get", "/avatars/{fileName}"): "getAvatarFile",
    ("get", "/healthz"): "checkHealth",
    ("get", "/readyz"): "checkReadiness",
}


def test_every_operation_has_its_short_operation_id(spec):
    native = {(method, path): operation.get("operationId") for method, path, operation in operations(spec)
              if not path.startswith("/flavors/")}
    assert native == OPERATION_IDS
    every = [operation.get("operationId") for _, _, operation in operations(spec)]
    assert None not in every and len(set(every)) == len(every)  # the flavors' too: present and unique


def test_test_mode_operations_have_ids_too(instance_path):
    from wsserver import create_app

    spec = create_app({"INSTANCE_PATH": instance_path, "TEST_MODE": True}).test_client().get("/openapi.json").get_json()
    ids = {(method, path): operation.get("operationId") for method, path, operation in operations(spec)}
    assert ids[("post", "/__admin__/reset")] == "resetInstance"
    assert ids[("get", "/__admin__/requests")] == "listRecordedRequests"
    assert len(set(ids.values())) == len(ids)


def test_a_test_mode_document_does_not_leak_into_the_next_apps(instance_path, tmp_path):
    from wsserver import create_app

    create_app({"INSTANCE_PATH": str(tmp_path / "first"), "TEST_MODE": True}).test_client().get("/openapi.json")
    spec = create_app({"INSTANCE_PATH": instance_path}).test_client().get("/openapi.json").get_json()
    assert not {"Reset", "RecordedRequest"} & set(spec["components"]["schemas"])
    assert not [path for path in spec["paths"] if path.startswith("/__admin__")]


def test_the_document_names_its_server_and_licence(spec):
    assert spec["servers"] == [{"url": "/", "description": "This server"}]
    assert spec["info"]["license"]["name"] == "MIT"
    assert "PaginationMetadata" not in spec["components"]["schemas"]


def test_every_operation_documents_414_and_431_in_the_envelope(spec):
    """(In a flavor's error shape for a flavor's operations.)"""
    for method, path, operation in operations(spec):
        for code in ("414", "431"):
            response = resolve(spec, operation["responses"].get(code, {"description": "missing"}))
            schemas = [media.get("schema", {}) for media in response.get("content", {}).values()]
            if is_flavor(path):
                assert schemas and {"$ref": ENVELOPE_REF} not in schemas, f"{method.upper()} {path} {code}"
            else:
                assert schemas == [{"$ref": ENVELOPE_REF}], f"{method.upper()} {path} {code}"


REDOCLY = "@redocly/cli@2.77.0"  # pinned: a newer release may add rules


def require_npx():
    """Skip (one line) outside CI when Node.js's npx is missing; fail in CI."""
    needs(not shutil.which("npx"), "REDOCLY LINT NOT RUN: npx (Node.js) missing (apt-get install -y nodejs npm)")


@pytest.mark.sqlite_only("the document does not depend on the engine: linted in the SQLite run")
def test_redocly_recommended_rules_find_nothing(spec, tmp_path):
    require_npx()
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(spec))
    # The one rule a flavor breaks on purpose: the engineering service's routes end with a slash (a DRF
    # API; a client calls them so). Redocly's ignore file names each such path, and nothing else.
    slashed = [path for path in spec["paths"] if path.endswith("/") and path.startswith("/flavors/engineering/")]
    pointers = "".join(f"    - '#/paths/{path.replace('~', '~0').replace('/', '~1')}'\n" for path in slashed)
    if slashed:
        (tmp_path / ".redocly.lint-ignore.yaml").write_text(f"openapi.json:\n  no-path-trailing-slash:\n{pointers}")
    environment = {**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true"}
    result = subprocess.run(
        ["npx", "--yes", REDOCLY, "lint", "--format=summary", str(document)],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Your API description is valid" in output, output
    assert not re.search(r"^(error|warning) ", output, re.MULTILINE), output


def test_rate_limit_headers_are_declared_where_they_are_sent(spec, client, admin_headers):
    """The budget's headers on every answer of a limited operation, Retry-After on its 429."""
    limited = 0
    for method, path, operation in operations(spec):
        responses = operation["responses"]
        if "429" not in responses:
            continue
        limited += 1
        assert "Retry-After" in resolve(spec, responses["429"])["headers"], f"{method.upper()} {path}"
        for code, response in responses.items():
            if code.startswith("2"):
                headers = resolve(spec, response).get("headers", {})
                assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(headers), \
                    f"{method.upper()} {path} {code}"
    native = [path for _, path, operation in operations(spec) if "429" in operation["responses"]
              and not path.startswith("/flavors/")]
    assert len(native) == 22  # all but the health probes and the avatar files (exempt from the budget)
    # and the server sends them (the test app has a rate limit)
    answer = client.get("/api/v2/workspaces", headers=admin_headers)
    assert answer.status_code == 200
    assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(answer.headers.keys())
