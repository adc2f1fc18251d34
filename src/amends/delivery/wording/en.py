"""English: plain, warm and short."""

from amends.delivery.wording import Gestures, If, Message, Note, Wording

WORDING = Wording(
    locale="en",
    hello="Hello {name},",
    hello_nameless="Hello,",
    default_apology="We are sorry we let you down, and we want to make it right.",
    expiry_at=lambda date, time: f"{date} at {time}",
    gestures=Gestures(
        percent_off="{percent} off your next order",
        amount_off="{amount} off your next order",
        gift_card="a gift card worth {amount}",
        free_item="a free item",
        free_item_named="a free item ({sku})",
        free_shipping="free shipping",
        free_shipping_months="free shipping for {months} months",
    ),
    code_label="Your code:",
    valid_until="Valid until {{ expires }}.",
    how_to_use="Show it at the till or enter it at checkout:",
    open_coupon="Open your coupon",
    terms_label="Terms:",
    sign_off="Kind regards,\nThe {{ brand }} team",
    questions="Questions? We are here to help:",
    messages={
        "gesture": Message(
            subject="We are sorry: {{ gesture }} for you",
            body=("{{ apology }}",
                  "{% if detail %}{{ detail }} {% endif %}As an apology, here is {{ gesture }}."),
            sms="{{ apology }} {% if detail %}{{ detail }} {% endif %}As an apology: "
                "{{ gesture }}, code {{ code }}, valid until {{ expires }}. {{ page_url }}",
            sms_short="{{ gesture }}: code {{ code }}, valid until {{ expires }}. "
                      "{{ page_url }}",
        ),
        "reminder": Message(
            subject="A reminder: your code expires on {{ expires_date }}",
            body=("A friendly reminder: {{ gesture }} is still waiting for you, but not for "
                  "much longer.",),
            sms="A reminder: {{ gesture }} (code {{ code }}) expires on {{ expires }}. "
                "{{ page_url }}",
            sms_short="Code {{ code }} expires on {{ expires }}. {{ page_url }}",
        ),
        "apology": Message(
            subject="We are sorry: there is a problem with your order",
            body=("{{ apology }}",
                  "{% if detail %}{{ detail }} {% endif %}We are on it and will keep you "
                  "posted. Your case reference is {{ case_reference }}."),
            sms="{{ apology }} {% if detail %}{{ detail }} {% endif %}We are on it and will "
                "keep you posted (case {{ case_reference }}).",
            sms_short="{% if detail %}{{ detail }} {% endif %}We are on it (case "
                      "{{ case_reference }}).",
        ),
        "incident_apology": Message(
            subject="An apology from {{ brand }}",
            body=("{{ apology }}",
                  "We are truly sorry for the trouble this has caused you. If you need "
                  "anything, contact us and mention the reference {{ case_reference }}."),
            sms="{{ apology }} We are truly sorry (reference {{ case_reference }}).",
            sms_short="{{ apology }}",
        ),
        "progress": Message(
            subject="An update on your case {{ case_reference }}",
            body=("An update on your case {{ case_reference }}: {{ detail }}",
                  "We have not forgotten you and will write again soon."),
            sms="An update on case {{ case_reference }}: {{ detail }} We will write again "
                "soon.",
            sms_short="Case {{ case_reference }}: {{ detail }}",
        ),
        "feedback": Message(
            subject="How did we do?",
            body=("We hope everything is now put right with your case {{ case_reference }}.",
                  "How did we do? {% if page_url %}It only takes a click to tell us."
                  "{% else %}Simply reply to this message and tell us.{% endif %}"),
            button="Tell us how we did",
            sms="We hope case {{ case_reference }} is now put right. How did we do? "
                "{% if page_url %}Tell us here: {{ page_url }}{% else %}Just reply to this "
                "message.{% endif %}",
            sms_short="How did we do? {% if page_url %}{{ page_url }}{% else %}Just reply."
                      "{% endif %}",
        ),
        "thank_you": Message(
            subject="Thank you",
            body=("Thank you for shopping with us again. After the trouble we caused you, "
                  "it means a great deal to us.",
                  If("code", "As a small thank-you, here is {{ gesture }}.")),
            sms="Thank you for shopping with us again!{% if code %} A small thank-you: "
                "{{ gesture }}, code {{ code }}, valid until {{ expires }}. {{ page_url }}"
                "{% endif %}",
            sms_short="Thank you!{% if code %} Code {{ code }}, valid until {{ expires }}. "
                      "{{ page_url }}{% endif %}",
        ),
        "reinstatement": Message(
            subject="Good news: your code is valid again until {{ expires_date }}",
            body=("Good news: your code for {{ gesture }} is valid again. You now have "
                  "until {{ expires }} to use it.",),
            sms="Good news: your code {{ code }} ({{ gesture }}) is valid again until "
                "{{ expires }}. {{ page_url }}",
            sms_short="Code {{ code }} valid until {{ expires }}. {{ page_url }}",
        ),
    },
    notes={
        "approval_needed": Note(
            subject="Approval needed: {{ incentive }} for {{ customer }}",
            body=("{{ requester }} asks to give {{ incentive }} ({{ amount }}) to customer "
                  "{{ customer }}.",
                  If("explanation", "Why it needs you: {{ explanation }}"),
                  If("note", "Their note: {{ note }}"),
                  "Please decide before {{ deadline }}; after that the request lapses."),
            link="Open the approvals",
        ),
        "approval_granted": Note(
            subject="Your request was granted",
            body=("{{ decider }} granted your request for customer {{ customer }}. The "
                  "gesture is on its way to them.",
                  If("reason", "Their words: {{ reason }}")),
            link="Open the case",
        ),
        "approval_refused": Note(
            subject="Your request was refused",
            body=("{{ decider }} refused your request for customer {{ customer }}.",
                  If("reason", "Their words: {{ reason }}")),
            link="Open the case",
        ),
        "case_opened": Note(
            subject="Case {{ case_reference }} opened by rule '{{ rule }}'",
            body=("The rule '{{ rule }}' opened case {{ case_reference }} on {{ opened }} "
                  "for customer {{ customer }}: parcel {{ parcel }}, {{ why }}.",),
            link="Open the case",
        ),
        "invitation": Note(
            subject="You are invited to the {{ brand }} console",
            body=("You have an account in the Amends console of {{ brand }}, where the team "
                  "looks after customers' cases and gestures.",
                  If("requester", "{{ requester }} invited you."),
                  "Choose your password with the link below before {{ deadline }}. The link "
                  "works once; then log in with your e-mail address and that password."),
            link="Choose your password",
        ),
        "password_reset": Note(
            subject="Choose a new password for the {{ brand }} console",
            body=("A new password was asked for your account in the Amends console of "
                  "{{ brand }}.",
                  If("requester", "{{ requester }} sent you this link."),
                  "Choose it with the link below before {{ deadline }}. The link works once; "
                  "until you use it, your current password still works."),
            link="Choose a new password",
        ),
    },
    phrases={
        "parcel_late": "Your parcel {parcel} is late.",
        "still_chasing": "We are still chasing your parcel with the carrier.",
        "still_chasing_parcel": "We are still chasing your parcel {parcel}.",
        "order_late": "Your order {order} is late: parcel {parcel} has not reached you yet.",
        "about_order": "This is about your order {order}.",
        "about_parcel": "This is about your parcel {parcel}.",
        "order_of": "{order} ({items})",
        "parcel_by": "{parcel} with {carrier}",
        "more_items": "{count} more",
    },
)
