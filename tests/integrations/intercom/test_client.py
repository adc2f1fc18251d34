"""Where and how Amends posts into an Intercom workspace: the workspace's region's API unless
the installation names another, a conversation's priority read as a severity, and the
apology's text as the HTML Intercom shows."""

from __future__ import annotations

from amends.integrations.intercom import client


def test_replies_go_to_the_api_of_the_workspaces_region_unless_the_installation_names_one(
) -> None:
    assert client.api_base({}) == "https://api.intercom.io"
    assert client.api_base({client.SEEN_REGION: "eu"}) == "https://api.eu.intercom.io"
    assert client.api_base({client.SEEN_REGION: "AU"}) == "https://api.au.intercom.io"
    assert client.api_base({client.SEEN_REGION: "mars"}) == "https://api.intercom.io"
    assert client.api_base({client.SEEN_REGION: "eu",
                            "api_base_url": "http://127.0.0.1:9/"}) == "http://127.0.0.1:9"


def test_a_priority_conversation_is_a_severity_4_case_and_others_a_3() -> None:
    assert client.severity("priority") == 4
    assert client.severity("not_priority") == 3
    assert client.severity(None) == 3


def test_the_apologys_paragraphs_and_lines_are_kept_and_its_text_escaped() -> None:
    assert client.as_html("Hello <Ann> & co,\n\nYour code: ABC\nValid until May.\n") == (
        "<p>Hello &lt;Ann&gt; &amp; co,</p><p>Your code: ABC<br>Valid until May.</p>")
