"""What went wrong in a browser while a test used the pages: what their Content-Security-Policy
refused (Chromium reports each refusal as a console error, and so does the listener below) and
scripts that failed. A test that shows pages asserts at the end that the list is empty."""

from __future__ import annotations

from playwright.async_api import BrowserContext as AsyncBrowserContext
from playwright.async_api import ConsoleMessage as AsyncConsoleMessage
from playwright.async_api import WebError as AsyncWebError
from playwright.sync_api import BrowserContext, ConsoleMessage, WebError

REPORT_REFUSALS = """
document.addEventListener("securitypolicyviolation", (event) => console.error(
  `securitypolicyviolation: ${event.violatedDirective} refused ${event.blockedURI || "inline"}`
  + ` at ${event.sourceFile}:${event.lineNumber}`));
"""


def _collect(context: BrowserContext | AsyncBrowserContext) -> list[str]:
    problems: list[str] = []

    def on_console(message: ConsoleMessage | AsyncConsoleMessage) -> None:
        where = message.location.get("url", "")
        page = message.page.url if message.page else None
        # A page's own status is its answer, which the test checks (the till answers 409 for
        # a code used before); Chromium asks every site for an icon, and Amends has none.
        if message.type == "error" and where != page and not where.endswith("/favicon.ico"):
            problems.append(f"{where}: {message.text}")

    def on_error(error: WebError | AsyncWebError) -> None:
        problems.append(f"script error: {error.error}")

    context.on("console", on_console)
    context.on("weberror", on_error)
    return problems


def watch(context: BrowserContext) -> list[str]:
    """The problems of every page of the context, collected from now on."""
    context.add_init_script(REPORT_REFUSALS)
    return _collect(context)


async def watch_async(context: AsyncBrowserContext) -> list[str]:
    """The problems of every page of the context, collected from now on."""
    await context.add_init_script(REPORT_REFUSALS)
    return _collect(context)
