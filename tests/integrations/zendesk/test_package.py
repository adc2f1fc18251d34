"""The Zendesk app's package passes the checks Zendesk runs when it is uploaded, written here
from zendesk/zendesk_apps_support (lib/zendesk_apps_support/validations/manifest.rb,
translations.rb, manifest/location_options.rb, manifest/parameter.rb, app_version.rb) and the
setup page's file requirements
(https://developer.zendesk.com/documentation/apps/app-developer-guide/setup/#file-requirements).
zcli's validator needs a Zendesk account (it uploads the package) and ZAT's needs Ruby, so
neither runs here."""

from __future__ import annotations

import io
import json
import re
import struct
import zipfile
from typing import Any
from urllib.parse import urlsplit

import pytest

from amends.helpdesk.platforms import PLATFORMS, Installed
from amends.integrations.zendesk import PLATFORM

# validations/manifest.rb and manifest.rb (RUBY_TO_JSON).
KNOWN_KEYS = {"requirementsOnly", "marketingOnly", "version", "author", "name", "experiments",
              "frameworkVersion", "singleInstall", "signedUrls", "noTemplate", "defaultLocale",
              "location", "private", "oauth", "parameters", "domainWhitelist",
              "remoteInstallationURL", "termsConditionsURL", "gaID"}
REQUIRED = ("author", "defaultLocale")
FRAMEWORK_VERSIONS = ("2.0",)  # AppVersion::TO_BE_SERVED: CURRENT, nothing deprecated
PRODUCTS = {"support", "zendesk"}  # Product::PRODUCTS_AVAILABLE (`zendesk` the legacy name)
SUPPORT_LOCATIONS = {"top_bar", "nav_bar", "ticket_sidebar", "new_ticket_sidebar",
                     "user_sidebar", "organization_sidebar", "background", "modal",
                     "ticket_editor", "system_top_bar"}
LOCATION_OPTIONS = {"legacy", "autoLoad", "autoHide", "flexible", "signed", "url", "size",
                    "objectTypes"}
PARAMETER_TYPES = {"text", "checkbox", "url", "number", "multiline", "hidden", "oauth"}
VALID_LOCALE = re.compile(r"^[a-z]{2,3}(-\w{2,3})?$")
BOOLEANS = ("private", "signedUrls", "singleInstall", "requirementsOnly", "marketingOnly")


def manifest_errors(files: dict[str, bytes]) -> list[str]:
    """What zendesk_apps_support would refuse in this package, in its error names."""
    errors: list[str] = []
    if "manifest.json" not in files:
        nested = [p for p in files if p.endswith("/manifest.json")]
        return ["nested_manifest" if nested else "missing_manifest"]
    manifest: dict[str, Any] = json.loads(files["manifest.json"],
                                          object_pairs_hook=_no_duplicates)
    errors += [f"unknown key {k}" for k in manifest if k not in KNOWN_KEYS]
    errors += [f"missing_manifest_fields {k}" for k in REQUIRED if k not in manifest]
    author = manifest.get("author", {})
    for field in ("name", "email", "url"):
        if field in author and not isinstance(author[field], str):
            errors.append(f"invalid author {field}")
    if "name" not in author or "email" not in author:  # the manifest reference's rule
        errors.append("author needs a name and an e-mail")
    if "url" in author and not _valid_url(author["url"]):
        errors.append("invalid_url author.url")
    locale = manifest.get("defaultLocale", "")
    if not VALID_LOCALE.match(locale):
        errors.append("invalid_default_locale")
    if f"translations/{locale}.json" not in files:
        errors.append("missing_translation_file")
    if manifest.get("requirementsOnly") or manifest.get("marketingOnly"):
        errors.append("this app must have locations")
    if manifest.get("frameworkVersion") not in FRAMEWORK_VERSIONS:
        errors.append("invalid_version frameworkVersion")
    if "version" in manifest and not isinstance(manifest["version"], str):
        errors.append("version must be a string")
    errors += [f"{k} must be a boolean" for k in BOOLEANS
               if k in manifest and not isinstance(manifest[k], bool)]
    if "noTemplate" in manifest:
        errors.append("no_template_deprecated_in_v2")
    errors += _location_errors(manifest.get("location"), files)
    errors += _parameter_errors(manifest.get("parameters", []))
    whitelist = manifest.get("domainWhitelist", [])
    if not isinstance(whitelist, list) or not all(isinstance(d, str) for d in whitelist):
        errors.append("unacceptable_array_of_strings domainWhitelist")
    errors += _translation_errors(files, locale, manifest)
    return errors


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), f"duplicate_manifest_keys {keys}"
    return dict(pairs)


def _valid_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _location_errors(location: Any, files: dict[str, bytes]) -> list[str]:
    if not isinstance(location, dict) or not location:
        return ["missing_location_error"]
    errors: list[str] = []
    for product, places in location.items():
        if product not in PRODUCTS:
            errors.append(f"invalid_host {product}")
            continue
        for name, options in places.items():
            if name not in SUPPORT_LOCATIONS:
                errors.append(f"invalid_location {name}")
            options = {"url": options} if isinstance(options, str) else options
            errors += [f"unknown location option {k}" for k in options
                       if k not in LOCATION_OPTIONS]
            if options.get("flexible") not in (None, True, False):
                errors.append("invalid_location_flexible_type")
            url = options.get("url", "")
            if options.get("autoLoad", True) and not url:
                errors.append("blank_location_uri")
            if url and "{{setting." not in url:
                parts = urlsplit(url)
                absolute = parts.scheme == "https" or parts.hostname == "localhost"
                relative = not parts.scheme and url.startswith("assets/") and url in files
                if not (absolute and parts.hostname) and not relative:
                    errors.append(f"invalid_location_uri {url}")
    return errors


def _parameter_errors(parameters: Any) -> list[str]:
    if not isinstance(parameters, list):
        return ["parameters_not_an_array"]
    errors: list[str] = []
    names = [p.get("name") for p in parameters]
    if len(names) != len(set(names)):
        errors.append("duplicate_parameters")
    for parameter in parameters:
        if parameter.get("name") == "name":
            errors.append("invalid_param_name")
        if parameter.get("type", "text") not in PARAMETER_TYPES:
            errors.append("invalid_type_parameter")
        for flag in ("required", "secure"):
            if not isinstance(parameter.get(flag, False), bool):
                errors.append(f"invalid_{flag}_parameter")
        if parameter.get("type") == "hidden" and parameter.get("required"):
            errors.append("invalid_hidden_parameter")
    return errors


def _translation_errors(files: dict[str, bytes], locale: str,
                        manifest: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    for path, content in files.items():
        if not path.startswith("translations/"):
            continue
        name = path.removeprefix("translations/").removesuffix(".json")
        if not VALID_LOCALE.match(name):
            errors.append(f"invalid translation file {path}")
        if not isinstance(json.loads(content), dict):
            errors.append(f"translation_not_hash {path}")
    if f"translations/{locale}.json" not in files:
        return errors
    app = json.loads(files[f"translations/{locale}.json"]).get("app", {})
    needed = ["name"] if manifest.get("private", True) else [
        "name", "short_description", "installation_instructions", "long_description"]
    errors += [f"missing_translation_keys app.{k}" for k in needed if not app.get(k)]
    for parameter in manifest.get("parameters", []):
        entry = app.get("parameters", {}).get(parameter["name"])
        if not isinstance(entry, dict) or "label" not in entry:
            errors.append(f"missing_required_key_on_leaf {parameter['name']}.label")
    return errors


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


INSTALLED = Installed(
    installation_id="0192b0c4-0000-7000-8000-000000000001", organization="lumiere",
    account="lumiere", name="Lumière support", base_url="https://amends.lumiere.example",
    urls={"panel": "https://amends.lumiere.example/helpdesk/lumiere/"
                   "0192b0c4-0000-7000-8000-000000000001/zendesk",
          "events": "https://amends.lumiere.example/helpdesk/lumiere/"
                    "0192b0c4-0000-7000-8000-000000000001/zendesk/events"})


def test_the_package_passes_zendesks_upload_checks() -> None:
    assert PLATFORM.package is not None
    files = PLATFORM.package(INSTALLED)
    assert manifest_errors(files) == []
    assert set(files) == {"manifest.json", "translations/en.json", "assets/logo.png",
                          "assets/logo-small.png"}
    manifest = json.loads(files["manifest.json"])
    sidebar = manifest["location"]["support"]["ticket_sidebar"]
    assert sidebar == {"url": INSTALLED.urls["panel"], "flexible": True}
    assert manifest["signedUrls"] is True
    assert manifest["private"] is True
    assert manifest["frameworkVersion"] == "2.0"
    assert png_size(files["assets/logo.png"]) == (320, 320)
    assert png_size(files["assets/logo-small.png"]) == (128, 128)
    assert json.loads(files["translations/en.json"])["app"]["name"] == "Amends"
    # As the admin uploads it: a zip with the manifest at its root.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, content in files.items():
            archive.writestr(path, content)
    with zipfile.ZipFile(buffer) as archive:
        assert "manifest.json" in archive.namelist()


@pytest.mark.parametrize(("change", "error"), [
    ({"frameworkVersion": "1.0"}, "invalid_version frameworkVersion"),
    ({"location": {"support": {"ticket_sidebar": {
        "url": "http://amends.example/panel", "flexible": True}}}}, "invalid_location_uri"),
    ({"location": {"support": {"ticket_sidebar": {"url": "", "flexible": "yes"}}}},
     "invalid_location_flexible_type"),
    ({"location": {"chat": {"ticket_sidebar": "https://a.example"}}}, "invalid_host"),
    ({"defaultLocale": "fr"}, "missing_translation_file"),
    ({"signedUrls": "true"}, "signedUrls must be a boolean"),
    ({"parameters": [{"name": "name"}]}, "invalid_param_name"),
    ({"parameters": [{"name": "key", "type": "password"}]}, "invalid_type_parameter"),
])
def test_the_checker_catches_what_zendesk_refuses(change: dict[str, Any], error: str) -> None:
    """The checker itself: each rule refuses what Zendesk's validator refuses."""
    assert PLATFORM.package is not None
    files = PLATFORM.package(INSTALLED)
    manifest = {**json.loads(files["manifest.json"]), **change}
    broken = {**files, "manifest.json": json.dumps(manifest).encode()}
    assert any(e.startswith(error) for e in manifest_errors(broken)), manifest_errors(broken)


def test_zendesk_is_registered_with_its_rules() -> None:
    assert PLATFORMS["zendesk"] is PLATFORM
    assert PLATFORM.ticket_url("lumiere", "35436") == (
        "https://lumiere.zendesk.com/agent/tickets/35436")
    assert [PLATFORM.severity(p) for p in ("urgent", "high", "normal", "low", None, "Urgent")
            ] == [5, 4, 3, 2, 3, 5]
