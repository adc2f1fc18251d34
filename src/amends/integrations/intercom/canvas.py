"""The canvases Amends answers Canvas Kit with: what the agent's panel shows elsewhere, in
Intercom's components (pure functions: data in, JSON out).

The envelope is `{"canvas": {"content": {"components": [...]}, "stored_data": {...}}}`
(https://developers.intercom.com/docs/references/canvas-kit/responseobjects/canvas). The
components, each from its reference page under
https://developers.intercom.com/docs/references/canvas-kit/:
- text (presentationcomponents/text): `text` with Markdown bold and links, `style` header,
  paragraph, muted or error;
- data-table (presentationcomponents/data-table): `items` of `{"type": "field-value",
  "field", "value"}`, truncated in the Inbox, so values stay short;
- divider, spacer (presentationcomponents/divider, .../spacer);
- button (interactivecomponents/button): `id`, `label`, `action` (submit, or url to open a
  page), `style` primary, secondary or link;
- dropdown (interactivecomponents/dropdown): 2 to 10 `options` of `{"type": "option", "id",
  "text"}`, the chosen option's id sent back in `input_values`;
- list (interactivecomponents/list): `items` of `{"type": "item", "id", "title",
  "subtitle", "tertiary_text", "action"}`; a clicked item's id comes back as `component_id`.
Sheets and live canvases (`content_url`) are Messenger-only, and not used.

Text the customer or the organisation wrote (names, reasons) goes into text components with
Markdown's bold and link characters taken out, so it cannot restyle the canvas or make a link.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from amends.helpdesk.service import SEVERITIES
from amends.kit import locale
from amends.web.labels import label

# Canvas Kit publishes no limit on components; these keep a canvas short in a sidebar.
LISTED = 5
OPTIONS = 10  # a dropdown takes 2 to 10 options

# Component ids (a list item's id is its action's: `give:<incentive id>`).
REASON, SEVERITY = "reason", "severity"
SHOW, GIVE, CONFIRM, BACK, MORE = "show", "give:", "confirm", "back", "more"
# The first canvas shows this many gestures: Intercom asks that it stay under 400 pixels tall
# (https://developers.intercom.com/docs/canvas-kit-inbox-best-practices, "Keep the first
# canvas less than 400 pixels tall").
FIRST = 3
ADD_CUSTOMER, REFRESH = "add_customer", "refresh"


def _(message: str) -> str:  # marks English source text; Words translates it where shown
    return message


@dataclass(frozen=True, slots=True)
class Words:
    """The teammate's language: sentences, amounts and dates (English without a user)."""

    gettext: Callable[[str], str] = str
    tag: str = "en"
    zone: str | None = None

    def __call__(self, message: str, **values: object) -> str:
        said = self.gettext(message)
        return said % values if values else said

    def key(self, key: str | None) -> str:
        """A stored key (a state, a status, a default reason) in words."""
        return self.gettext(label(key))

    def money(self, minor: int, currency: str) -> str:
        return locale.money(minor, currency, self.tag)

    def date(self, moment: datetime) -> str:
        return locale.date(moment, self.tag, self.zone)


def plain(value: str | None) -> str:
    """Someone's words inside a text component: no bold, no link."""
    return (value or "").replace("*", "").replace("[", "(").replace("]", ")").strip()


# --- components -----------------------------------------------------------------------------

def text(words: str, *, style: str | None = None, id: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"type": "text", "text": words}
    if style:
        found["style"] = style
    if id:
        found["id"] = id
    return found


def button(id: str, words: str, *, style: str = "primary", url: str | None = None
           ) -> dict[str, Any]:
    action = {"type": "url", "url": url} if url else {"type": "submit"}
    return {"type": "button", "id": id, "label": words, "style": style, "action": action}


def dropdown(id: str, words: str, options: Sequence[tuple[str, str]], value: str | None
             ) -> dict[str, Any]:
    found: dict[str, Any] = {"type": "dropdown", "id": id, "label": words, "options": [
        {"type": "option", "id": key, "text": said} for key, said in options]}
    if value is not None and any(key == value for key, _ in options):
        found["value"] = value
    return found


def item(id: str, title: str, *, subtitle: str | None = None,
         tertiary: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"type": "item", "id": id, "title": title,
                             "action": {"type": "submit"}}
    if subtitle:
        found["subtitle"] = subtitle
    if tertiary:
        found["tertiary_text"] = tertiary
    return found


def items(listed: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "list", "items": list(listed)}


def table(rows: Sequence[tuple[str, str]]) -> dict[str, Any]:
    return {"type": "data-table", "items": [
        {"type": "field-value", "field": field_, "value": value} for field_, value in rows]}


def divider() -> dict[str, Any]:
    return {"type": "divider"}


def spacer(size: str = "s") -> dict[str, Any]:
    return {"type": "spacer", "size": size}


def canvas(components: Sequence[dict[str, Any]], stored: dict[str, Any] | None = None
           ) -> dict[str, Any]:
    found: dict[str, Any] = {"content": {"components": list(components)}}
    if stored is not None:
        found["stored_data"] = stored
    return {"canvas": found}


# --- what the canvases show -----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Gesture:
    """One gesture the agent may give: the incentive, its value, why it fits."""

    incentive_id: str
    name: str
    face_value: int
    currency: str
    why: str = ""


@dataclass(frozen=True, slots=True)
class Given:
    name: str
    code: str
    status: str
    issued_at: datetime
    message: str | None = None  # the status of its message (queued, delivered, failed...)


@dataclass(frozen=True, slots=True)
class OpenCase:
    reference: str
    reason: str
    state: str
    this_ticket: bool


@dataclass(frozen=True, slots=True)
class Asked:
    status: str
    tier: str
    decision_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Overview:
    """Everything the main canvas shows for the conversation's customer."""

    customer_name: str | None
    customer_line: str  # e-mail · phone · tier
    requester_line: str  # the contact as Intercom names them, for an unknown customer
    known: bool
    may_add: bool  # an unknown contact with an id, an e-mail or a phone number
    may_give: bool
    case_closed: str | None  # the case's reference when the ticket's case is closed
    reasons: Sequence[tuple[str, str]]
    reason: str
    severity: int
    recommended: Sequence[Gesture] = ()
    others: Sequence[Gesture] = ()
    given: Sequence[Given] = ()
    open_cases: Sequence[OpenCase] = ()
    asked: Sequence[Asked] = ()
    reply_as: str = "public"
    customer_url: str | None = None
    notice: str | None = None
    problem: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def refusal(w: Words, why: str) -> dict[str, Any]:
    """Canvas Kit shows only a canvas: a refusal is one too, its reason in words."""
    return canvas([text(w(_("Amends")), style="header"), text(plain(why), style="error")])


def first(w: Words, view: Overview, stored: dict[str, Any]) -> dict[str, Any]:
    """The first canvas, short: who the customer is, a supervisor's answer awaited, the
    gestures that fit best, what they have had; `More` shows the rest."""
    if not view.known:
        return overview(w, view, stored)
    shown: list[dict[str, Any]] = [text(plain(view.customer_name), style="header")]
    if view.customer_line:
        shown.append(text(plain(view.customer_line), style="muted"))
    shown += [text(asked_words(w, asked)) for asked in view.asked[:1]
              if asked.status == "pending"]
    if view.case_closed:
        shown.append(text(w(_("This conversation's case %(ref)s is closed: reopen it in Amends "
                              "to give a gesture."), ref=view.case_closed)))
    elif view.may_give:
        reason = dict(view.reasons).get(view.reason, view.reason)
        shown.append(text(w(_("%(reason)s, severity %(severity)s"), reason=plain(w(reason)),
                            severity=view.severity), style="muted"))
        if view.recommended:
            shown.append(items([_gesture_item(w, g, why=False)
                                for g in view.recommended[:FIRST]]))
        else:
            shown.append(text(w(_("No gesture within your authority fits.")), style="muted"))
    shown.append(text(w(_("Gestures given: %(given)s · open cases: %(cases)s"),
                        given=len(view.given), cases=len(view.open_cases)), style="muted"))
    shown.append(button(MORE, w(_("More")), style="secondary"))
    return canvas(shown, stored)


def _gesture_item(w: Words, gesture: Gesture, *, why: bool = True) -> dict[str, Any]:
    return item(GIVE + gesture.incentive_id, plain(gesture.name),
                subtitle=w.money(gesture.face_value, gesture.currency),
                tertiary=(plain(gesture.why) or None) if why else None)


def overview(w: Words, view: Overview, stored: dict[str, Any]) -> dict[str, Any]:
    """Everything: the reason and severity to choose, every gesture that fits and the others,
    the gestures given and the open cases."""
    shown: list[dict[str, Any]] = []
    if view.notice:
        shown.append(text(plain(view.notice), style="muted"))
    if view.problem:
        shown.append(text(plain(view.problem), style="error"))
    if not view.known:
        shown += [text(w(_("Not yet a customer in Amends")), style="header"),
                  text(w(_("The conversation's contact: %(who)s"),
                         who=plain(view.requester_line) or "—"))]
        if view.may_add:
            shown.append(button(ADD_CUSTOMER, w(_("Add as a customer"))))
        else:
            shown.append(text(w(_("The contact has no e-mail address or phone number: add "
                                  "the customer in Amends first.")), style="error"))
        return canvas(shown, stored)
    shown += [text(plain(view.customer_name), style="header")]
    if view.customer_line:
        shown.append(text(plain(view.customer_line), style="muted"))
    for asked in view.asked:
        shown.append(text(asked_words(w, asked)))
    if view.asked and any(a.status == "pending" for a in view.asked):
        shown.append(button(REFRESH, w(_("Refresh")), style="secondary"))
    if view.case_closed:
        shown.append(text(w(_("This conversation's case %(ref)s is closed: reopen it in Amends "
                              "to give a gesture."), ref=view.case_closed)))
    elif view.may_give:
        shown += _give(w, view)
    shown += [divider(), text(w(_("Gestures given")), style="header")]
    if view.given:
        shown.append(table([(plain(g.name), _given_value(w, g)) for g in view.given[:LISTED]]))
    else:
        shown.append(text(w(_("None yet.")), style="muted"))
    shown.append(text(w(_("Open cases")), style="header"))
    if view.open_cases:
        shown.append(table([(c.reference, _case_value(w, c)) for c in view.open_cases[:LISTED]]))
    else:
        shown.append(text(w(_("None.")), style="muted"))
    if view.customer_url:
        shown.append(button("open", w(_("Open in Amends")), style="link",
                            url=view.customer_url))
    return canvas(shown, stored)


def _give(w: Words, view: Overview) -> list[dict[str, Any]]:
    shown: list[dict[str, Any]] = [text(w(_("Make amends")), style="header")]
    reasons = [(key, plain(w(said))) for key, said in view.reasons]
    if len(reasons) > OPTIONS:
        # A dropdown takes ten options: the chosen reason and the first nine others.
        reasons = ([r for r in reasons if r[0] == view.reason]
                   + [r for r in reasons if r[0] != view.reason])[:OPTIONS]
        reasons.sort(key=lambda r: r[1])
    if len(reasons) >= 2:
        shown.append(dropdown(REASON, w(_("Reason")), reasons, view.reason))
    else:
        shown.append(text(w(_("Reason: %(reason)s"),
                            reason=reasons[0][1] if reasons else "—")))
    shown.append(dropdown(SEVERITY, w(_("Severity")),
                          [(str(n), str(n)) for n in SEVERITIES], str(view.severity)))
    shown.append(button(SHOW, w(_("Show gestures for this reason")), style="secondary"))
    if view.recommended:
        shown.append(text(w(_("Recommended gestures")), style="muted"))
        shown.append(items([_gesture_item(w, g) for g in view.recommended[:LISTED]]))
    else:
        shown.append(text(w(_("No gesture within your authority fits: ask a supervisor with "
                              "one below.")), style="muted"))
    if view.others:
        shown.append(text(w(_("Other gestures (a supervisor is asked above your "
                              "authority)")), style="muted"))
        shown.append(items([item(GIVE + g.incentive_id, plain(g.name),
                                 subtitle=w.money(g.face_value, g.currency))
                            for g in view.others[:LISTED]]))
    shown.append(text(w(_("The apology with the code is added to this conversation as an "
                          "internal note.")) if view.reply_as == "note" else
                      w(_("The apology with the code is posted to this conversation as a "
                          "reply.")), style="muted"))
    return shown


def _given_value(w: Words, given: Given) -> str:
    said = f"{given.code} · {w.key(given.status)} · {w.date(given.issued_at)}"
    return said + (f" · {w.key(given.message)}" if given.message else "")


def _case_value(w: Words, case: OpenCase) -> str:
    said = f"{w.key(case.reason)} · {w.key(case.state)}"
    return said + (f" · {w(_('this conversation'))}" if case.this_ticket else "")


def asked_words(w: Words, asked: Asked) -> str:
    if asked.status == "pending":
        return w(_("Waiting for a %(tier)s to decide."), tier=w.key(asked.tier).lower())
    if asked.status == "granted":
        return w(_("Granted: the gesture is given and its message is on its way to the "
                   "conversation."))
    if asked.status == "refused":
        return " ".join(filter(None, [w(_("Refused.")), plain(asked.decision_reason)]))
    return w.key(asked.status)


def confirm(w: Words, *, gesture: Gesture, customer_name: str, reason: str, severity: int,
            stored: dict[str, Any]) -> dict[str, Any]:
    """The step before the gesture is given: what, to whom, why."""
    return canvas([
        text(w(_("Give %(gesture)s (%(value)s) to %(customer)s?"),
               gesture=f"**{plain(gesture.name)}**",
               value=w.money(gesture.face_value, gesture.currency),
               customer=f"**{plain(customer_name)}**")),
        table([(w(_("Reason")), plain(reason)), (w(_("Severity")), str(severity))]),
        button(CONFIRM, w(_("Confirm"))),
        button(BACK, w(_("Back")), style="secondary"),
    ], stored)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the confirmed click did."""

    name: str
    code: str | None = None
    created: bool = False
    asked: Asked | None = None
    asked_why: str | None = None
    problem: str | None = None
    reply_as: str = "public"


def result(w: Words, outcome: Outcome, stored: dict[str, Any]) -> dict[str, Any]:
    shown: list[dict[str, Any]] = []
    if outcome.problem:
        shown.append(text(plain(outcome.problem), style="error"))
    elif outcome.asked is not None:
        shown += [text(plain(outcome.asked_why)), text(asked_words(w, outcome.asked))]
        if outcome.asked.status == "pending":
            shown.append(button(REFRESH, w(_("Refresh"))))
    elif outcome.created:
        shown += [text(w(_("Given: %(gesture)s, code %(code)s."),
                         gesture=f"**{plain(outcome.name)}**", code=f"**{outcome.code}**")),
                  text(w(_("The apology with the code is being added to the conversation as "
                           "an internal note.")) if outcome.reply_as == "note" else
                       w(_("The apology with the code is being posted to the "
                           "conversation.")), style="muted")]
    else:
        shown.append(text(w(_("This gesture was given before for this conversation (code "
                              "%(code)s); nothing new was sent."),
                            code=f"**{outcome.code}**")))
    shown.append(button(BACK, w(_("Back to the customer")), style="secondary"))
    return canvas(shown, stored)
