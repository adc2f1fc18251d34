"""The Freshdesk app made for an installation keeps the rules `fdk validate` enforces for a
Platform 3.0 app (Freshworks publishes no schema; its CLI is not on a package registry, so the
rules are checked here as Freshworks' own references state them:
https://developers.freshworks.com/docs/app-sdk/v3.0/support_ticket/app-manifest/,
https://developers.freshworks.com/docs/app-sdk/v3.0/support_ticket/advanced-interfaces/request-method/,
and freshworks-developers/marketplace skills/app-dev/references (platform3-manifest-structure,
error-catalog, installation-parameters-errors)), and the secret never reaches the page."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any
from xml.etree import ElementTree

import pytest

from amends.helpdesk.platforms import Installed
from amends.integrations.freshdesk import PLATFORM

INSTALLATION = str(uuid.UUID("0191f0a4-0000-7000-8000-000000000001"))
ROOT = f"https://amends.example.com/helpdesk/acme/{INSTALLATION}/freshdesk"
IPARAM_TYPES = {"text", "paragraph", "dropdown", "email", "number", "phone_number", "date",
                "url", "radio", "checkbox", "multiselect", "domain", "api_key"}
CONTENT_TYPES = {"application/json", "application/xml", "text/html", "text/xml",
                 "application/jsonp", "text/plain", "text/javascript",
                 "application/vnd.api+json"}
SUBSTITUTION = re.compile(r"<%=\s*(iparam|context)\.(\w+)\s*%>")


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    installed = Installed(installation_id=INSTALLATION, organization="acme",
                          account="acme.freshdesk.com", name="Acme support",
                          base_url="https://amends.example.com",
                          urls={"panel": ROOT, "events": f"{ROOT}/events"})
    made = PLATFORM.package
    assert made is not None
    return made(installed)


def load(files: dict[str, bytes], path: str) -> Any:
    return json.loads(files[path])


def test_the_manifest_is_a_platform_3_app_in_the_ticket_sidebar(
        files: dict[str, bytes]) -> None:
    manifest = load(files, "manifest.json")
    assert manifest["platform-version"] == "3.0"
    assert "product" not in manifest  # the 2.x form
    assert "whitelisted-domains" not in manifest  # deprecated
    modules = manifest["modules"]
    assert set(modules) - {"common"}, "At least one module apart from common"
    assert set(modules["common"]) <= {"requests", "functions", "location"}
    assert "location" not in modules["common"]  # ticket_sidebar is not a common location
    location = modules["support_ticket"]["location"]
    assert list(location) == ["ticket_sidebar"]
    sidebar = location["ticket_sidebar"]
    assert set(sidebar) == {"url", "icon"}
    # Every location's files exist, relative to app/.
    assert f"app/{sidebar['url']}" in files
    assert f"app/{sidebar['icon']}" in files
    assert all(re.fullmatch(r"\d+\.\d+\.\d+", v) for v in manifest["engines"].values())
    assert set(manifest["engines"]) == {"node", "fdk"}


def test_the_icon_is_a_64_pixel_svg(files: dict[str, bytes]) -> None:
    icon = ElementTree.fromstring(files["app/styles/images/icon.svg"])
    assert icon.tag == "{http://www.w3.org/2000/svg}svg"
    assert (icon.get("width"), icon.get("height"), icon.get("viewBox")) == (
        "64", "64", "0 0 64 64")


def test_each_request_template_is_declared_and_keeps_the_request_method_rules(
        files: dict[str, bytes]) -> None:
    declared = load(files, "manifest.json")["modules"]["common"]["requests"]
    templates = load(files, "config/requests.json")
    iparams = load(files, "config/iparams.json")
    assert set(declared) == set(templates)
    assert all(value == {} for value in declared.values())
    assert len(templates) <= 100
    for name, template in templates.items():
        assert re.fullmatch(r"[A-Za-z0-9_-]+", name)
        schema = template["schema"]
        assert set(schema) <= {"protocol", "method", "host", "path", "headers", "query"}
        assert "body" not in schema
        assert schema["method"] in {"GET", "POST", "PUT", "DELETE", "PATCH"}
        assert schema["protocol"] == "https"
        host = schema["host"]
        assert "://" not in host
        assert "/" not in host
        assert "%7B" not in host
        assert schema["path"].startswith("/")
        assert "?" not in schema["path"]
        assert schema["headers"]["Content-Type"] in CONTENT_TYPES
        options = template["options"]
        assert 1 <= options["maxAttempts"] <= 5
        assert 0 <= options["retryDelay"] <= 1500
        assert options["retryDelay"] % 100 == 0
        # Secure parameters only in headers; the host and path only from non-secure ones, and
        # no context from the page in the host.
        for field in ("host", "path"):
            for kind, key in SUBSTITUTION.findall(schema[field]):
                assert kind == "iparam", field
                assert not iparams[key].get("secure"), (field, key)
        for value in schema["headers"].values():
            for kind, key in SUBSTITUTION.findall(value):
                assert kind == "iparam"
                assert key in iparams


def test_the_template_reaches_this_installations_session_with_the_secret_header(
        files: dict[str, bytes]) -> None:
    [template] = load(files, "config/requests.json").values()
    schema = template["schema"]
    assert (schema["method"], schema["path"]) == (
        "POST", f"/helpdesk/acme/{INSTALLATION}/freshdesk/session")
    assert schema["host"] == "<%= iparam.amends_host %>"
    assert schema["headers"]["Authorization"] == "Bearer <%= iparam.amends_secret %>"
    # One attempt: a retry would repeat a nonce Amends refuses.
    assert template["options"]["maxAttempts"] == 1


def test_the_settings_form_keeps_the_secret_secure(files: dict[str, bytes]) -> None:
    iparams = load(files, "config/iparams.json")
    for name, field in iparams.items():
        assert {"display_name", "type"} <= set(field), name
        assert field["type"] in IPARAM_TYPES
        assert set(field) <= {"display_name", "description", "type", "required", "secure",
                              "default_value", "options", "type_attributes", "visible"}
    assert iparams["amends_secret"]["secure"] is True
    assert iparams["amends_host"].get("secure") is not True
    assert iparams["amends_host"]["default_value"] == "amends.example.com"
    assert "config/iparams.html" not in files  # one or the other, never both


def test_the_page_loads_the_app_client_and_asks_through_the_declared_template(
        files: dict[str, bytes]) -> None:
    page = files["app/index.html"].decode()
    assert '<script async src="{{{appclient}}}"></script>' in page
    assert 'href="styles/style.css"' in page
    assert 'src="scripts/app.js"' in page
    script = files["app/scripts/app.js"].decode()
    [name] = load(files, "config/requests.json")
    assert f'invokeTemplate("{name}"' in script
    assert "client.data.get" in script
    assert "iparams" not in script  # the page never reads a parameter, secure or not
