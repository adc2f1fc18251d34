# The German dash (Gedankenstrich) is an en dash: ruff's look-alike warning does not apply.
# ruff: noqa: RUF001
"""German: "Sie" throughout, friendly and to the point. A gesture reads in the accusative
("schenken wir Ihnen einen Geschenkgutschein", "Ihr Code für einen Geschenkgutschein")."""

from amends.delivery.wording import Gestures, If, Message, Note, Wording

WORDING = Wording(
    locale="de",
    hello="Guten Tag {name},",
    hello_nameless="Guten Tag,",
    default_apology="Es tut uns leid, dass wir Sie enttäuscht haben – das möchten wir "
                    "wiedergutmachen.",
    expiry_at=lambda date, time: f"{date} um {time} Uhr",
    gestures=Gestures(
        percent_off="{percent} Rabatt auf Ihre nächste Bestellung",
        amount_off="{amount} Rabatt auf Ihre nächste Bestellung",
        gift_card="einen Geschenkgutschein über {amount}",
        free_item="einen Gratisartikel",
        free_item_named="einen Gratisartikel ({sku})",
        free_shipping="kostenlosen Versand",
        free_shipping_months="{months} Monate kostenlosen Versand",
    ),
    code_label="Ihr Code:",
    valid_until="Gültig bis {{ expires }}.",
    how_to_use="Zeigen Sie ihn an der Kasse vor oder geben Sie ihn bei Ihrer Online-Bestellung "
               "ein:",
    open_coupon="Code anzeigen",
    terms_label="Bedingungen:",
    sign_off="Mit freundlichen Grüßen\nIhr Team von {{ brand }}",
    questions="Fragen? Wir helfen Ihnen gern:",
    messages={
        "gesture": Message(
            subject="Unsere Entschuldigung – und ein Geschenk für Sie",
            body=("{{ apology }}",
                  "{% if detail %}{{ detail }} {% endif %}Als Entschuldigung schenken wir Ihnen "
                  "{{ gesture }}."),
            sms="{{ apology }} {% if detail %}{{ detail }} {% endif %}Als Entschuldigung: "
                "{{ gesture }}, Code {{ code }}, gültig bis {{ expires }}. {{ page_url }}",
            sms_short="Code {{ code }} ({{ gesture }}), gültig bis {{ expires }}. "
                      "{{ page_url }}",
        ),
        "reminder": Message(
            subject="Erinnerung: Ihr Code läuft am {{ expires_date }} ab",
            body=("Eine kurze Erinnerung: Ihr Code für {{ gesture }} wartet noch auf Sie – "
                  "aber nicht mehr lange.",),
            sms="Erinnerung: Ihr Code {{ code }} für {{ gesture }} läuft am {{ expires }} ab. "
                "{{ page_url }}",
            sms_short="Code {{ code }} läuft am {{ expires }} ab. {{ page_url }}",
        ),
        "apology": Message(
            subject="Es tut uns leid: Es gibt ein Problem mit Ihrer Bestellung",
            body=("{{ apology }}",
                  "{% if detail %}{{ detail }} {% endif %}Wir kümmern uns darum und halten Sie "
                  "auf dem Laufenden. Ihre Vorgangsnummer lautet {{ case_reference }}."),
            sms="{{ apology }} {% if detail %}{{ detail }} {% endif %}Wir kümmern uns darum und "
                "halten Sie auf dem Laufenden (Vorgang {{ case_reference }}).",
            sms_short="{% if detail %}{{ detail }} {% endif %}Wir kümmern uns darum (Vorgang "
                      "{{ case_reference }}).",
        ),
        "incident_apology": Message(
            subject="Eine Entschuldigung von {{ brand }}",
            body=("{{ apology }}",
                  "Wir bedauern die Unannehmlichkeiten sehr. Wenn Sie etwas brauchen, wenden "
                  "Sie sich bitte unter Angabe der Vorgangsnummer {{ case_reference }} an uns."),
            sms="{{ apology }} Wir bitten vielmals um Entschuldigung (Vorgang "
                "{{ case_reference }}).",
            sms_short="{{ apology }}",
        ),
        "progress": Message(
            subject="Neuigkeiten zu Ihrem Vorgang {{ case_reference }}",
            body=("Neuigkeiten zu Ihrem Vorgang {{ case_reference }}: {{ detail }}",
                  "Wir haben Sie nicht vergessen und melden uns bald wieder."),
            sms="Vorgang {{ case_reference }}: {{ detail }} Wir melden uns bald wieder.",
            sms_short="Vorgang {{ case_reference }}: {{ detail }}",
        ),
        "feedback": Message(
            subject="Wie zufrieden waren Sie mit uns?",
            body=("Wir hoffen, dass bei Ihrem Vorgang {{ case_reference }} nun alles wieder "
                  "in Ordnung ist.",
                  "Wie zufrieden waren Sie mit uns? {% if page_url %}Ein Klick genügt, um es "
                  "uns zu sagen.{% else %}Antworten Sie einfach auf diese Nachricht."
                  "{% endif %}"),
            button="Bewertung abgeben",
            sms="Wir hoffen, bei Vorgang {{ case_reference }} ist alles wieder in Ordnung. Wie "
                "zufrieden waren Sie? {% if page_url %}Sagen Sie es uns hier: {{ page_url }}"
                "{% else %}Antworten Sie einfach auf diese Nachricht.{% endif %}",
            sms_short="Wie zufrieden waren Sie? {% if page_url %}{{ page_url }}{% else %}"
                      "Antworten Sie einfach.{% endif %}",
        ),
        "thank_you": Message(
            subject="Vielen Dank!",
            body=("Vielen Dank, dass Sie wieder bei uns eingekauft haben. Nach dem Ärger, den "
                  "wir Ihnen bereitet haben, bedeutet uns das sehr viel.",
                  If("code", "Als kleines Dankeschön schenken wir Ihnen {{ gesture }}.")),
            sms="Vielen Dank, dass Sie wieder bei uns bestellt haben!{% if code %} Als kleines "
                "Dankeschön: {{ gesture }}, Code {{ code }}, gültig bis {{ expires }}. "
                "{{ page_url }}{% endif %}",
            sms_short="Vielen Dank!{% if code %} Code {{ code }}, gültig bis {{ expires }}. "
                      "{{ page_url }}{% endif %}",
        ),
        "reinstatement": Message(
            subject="Gute Nachricht: Ihr Code gilt wieder bis {{ expires_date }}",
            body=("Gute Nachricht: Ihr Code für {{ gesture }} ist wieder gültig. Sie können "
                  "ihn bis {{ expires }} einlösen.",),
            sms="Gute Nachricht: Ihr Code {{ code }} für {{ gesture }} gilt wieder bis "
                "{{ expires }}. {{ page_url }}",
            sms_short="Code {{ code }} gültig bis {{ expires }}. {{ page_url }}",
        ),
    },
    notes={
        "approval_needed": Note(
            subject="Freigabe erforderlich: {{ incentive }} für {{ customer }}",
            body=("{{ requester }} möchte dem Kunden {{ customer }} {{ incentive }} "
                  "({{ amount }}) gewähren.",
                  If("explanation", "Warum Ihre Freigabe nötig ist: {{ explanation }}"),
                  If("note", "Notiz: {{ note }}"),
                  "Bitte entscheiden Sie bis {{ deadline }}; danach verfällt die Anfrage."),
            link="Freigaben öffnen",
        ),
        "approval_granted": Note(
            subject="Ihre Anfrage wurde genehmigt",
            body=("{{ decider }} hat Ihre Anfrage für den Kunden {{ customer }} genehmigt. "
                  "Die Geste wird verschickt.",
                  If("reason", "Begründung: {{ reason }}")),
            link="Vorgang öffnen",
        ),
        "approval_refused": Note(
            subject="Ihre Anfrage wurde abgelehnt",
            body=("{{ decider }} hat Ihre Anfrage für den Kunden {{ customer }} abgelehnt.",
                  If("reason", "Begründung: {{ reason }}")),
            link="Vorgang öffnen",
        ),
        "case_opened": Note(
            subject="Vorgang {{ case_reference }} durch Regel „{{ rule }}“ eröffnet",
            body=("Die Regel „{{ rule }}“ hat am {{ opened }} den Vorgang "
                  "{{ case_reference }} für den Kunden {{ customer }} eröffnet: Paket "
                  "{{ parcel }}, {{ why }}.",),
            link="Vorgang öffnen",
        ),
        "invitation": Note(
            subject="Ihre Einladung zur Konsole von {{ brand }}",
            body=("Sie haben ein Konto in der Amends-Konsole von {{ brand }}, in der das Team "
                  "die Vorgänge und Kulanzgesten für Kunden betreut.",
                  If("requester", "{{ requester }} hat Sie eingeladen."),
                  "Wählen Sie Ihr Passwort über den Link unten bis {{ deadline }}. Der Link "
                  "funktioniert einmal; danach melden Sie sich mit Ihrer E-Mail-Adresse und "
                  "diesem Passwort an."),
            link="Passwort wählen",
        ),
        "password_reset": Note(
            subject="Neues Passwort für die Konsole von {{ brand }}",
            body=("Für Ihr Konto in der Amends-Konsole von {{ brand }} wurde ein neues "
                  "Passwort angefordert.",
                  If("requester", "{{ requester }} hat Ihnen diesen Link gesendet."),
                  "Wählen Sie es über den Link unten bis {{ deadline }}. Der Link "
                  "funktioniert einmal; bis dahin gilt Ihr bisheriges Passwort weiter."),
            link="Neues Passwort wählen",
        ),
    },
    phrases={
        "parcel_late": "Ihr Paket {parcel} hat Verspätung.",
        "still_chasing": "Wir haken wegen Ihres Pakets weiter beim Versanddienstleister nach.",
        "still_chasing_parcel": "Wir haken wegen Ihres Pakets {parcel} weiter beim "
                                "Versanddienstleister nach.",
        "order_late": "Ihre Bestellung {order} hat Verspätung: Das Paket {parcel} ist noch "
                      "nicht bei Ihnen angekommen.",
        "about_order": "Es geht um Ihre Bestellung {order}.",
        "about_parcel": "Es geht um Ihr Paket {parcel}.",
        "order_of": "{order} ({items})",
        "parcel_by": "{parcel} von {carrier}",
        "more_items": "{count} weitere Artikel",
    },
)
