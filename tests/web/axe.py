"""Accessibility checks of a page with axe-core, as the browser tests see the page.

axe-core comes inside the `axe-playwright-python` package (pinned in pyproject.toml's dev
extras): nothing is downloaded when the tests run. The script is injected by Playwright
(through the DevTools protocol, which the pages' Content-Security-Policy does not govern) and
run against the whole document."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.base import AXE_SCRIPT
from playwright.sync_api import Page

# What fails a test: a violation that stops or seriously hinders someone (axe's own scale is
# minor, moderate, serious, critical).
BLOCKING = ("serious", "critical")


def violations(page: Page, *, impacts: tuple[str, ...] = BLOCKING) -> list[dict[str, Any]]:
    """axe-core's violations of the page as it is now, of the given impacts. The script is
    injected once per document (a page checked at two widths parses it once)."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE_SCRIPT)
    found: list[dict[str, Any]] = page.evaluate(
        "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations)")
    return [v for v in found if v.get("impact") in impacts]


def describe(found: list[dict[str, Any]]) -> str:
    """Violations as a person fixing them wants to read them: the rule, its impact, what it
    asks, and each element (its CSS path and the start of its HTML) with axe's reason."""
    lines = []
    for violation in found:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}"
                     f" [{violation['helpUrl'].split('?')[0]}]")
        for node in violation["nodes"][:8]:
            target = " ".join(str(t) for t in node["target"])
            reasons = "; ".join(check["message"] for kind in ("any", "all", "none")
                                for check in node.get(kind, []))
            lines.append(f"    {target}: {node['html'][:160]}")
            if reasons:
                lines.append(f"      {reasons[:300]}")
        if len(violation["nodes"]) > 8:
            lines.append(f"    ... and {len(violation['nodes']) - 8} more")
    return "\n".join(lines)


def assert_accessible(page: Page, name: str) -> None:
    """Fail, listing every serious or critical axe-core violation readably, unless there is
    none on the page as it is now. `name` says which page (and width) was checked."""
    found = violations(page)
    assert not found, f"{name} ({page.url}): axe-core finds\n{describe(found)}"
