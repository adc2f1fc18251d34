"""Dutch: "u" throughout, friendly and direct."""

from amends.delivery.wording import Gestures, If, Message, Note, Wording

WORDING = Wording(
    locale="nl",
    hello="Beste {name},",
    hello_nameless="Beste klant,",
    default_apology="Het spijt ons dat we u hebben teleurgesteld, en we willen het graag "
                    "goedmaken.",
    expiry_at=lambda date, time: f"{date} om {time} uur",
    gestures=Gestures(
        percent_off="{percent} korting op uw volgende bestelling",
        amount_off="{amount} korting op uw volgende bestelling",
        gift_card="een cadeaukaart ter waarde van {amount}",
        free_item="een gratis artikel",
        free_item_named="een gratis artikel ({sku})",
        free_shipping="gratis verzending",
        free_shipping_months="{months} maanden gratis verzending",
    ),
    code_label="Uw code:",
    valid_until="Geldig tot {{ expires }}.",
    how_to_use="Laat hem zien bij de kassa of vul hem in bij uw online bestelling:",
    open_coupon="Bekijk uw code",
    terms_label="Voorwaarden:",
    sign_off="Met vriendelijke groet,\nHet team van {{ brand }}",
    questions="Vragen? We helpen u graag:",
    messages={
        "gesture": Message(
            subject="Onze excuses: {{ gesture }} voor u",
            body=("{{ apology }}",
                  "{% if detail %}{{ detail }} {% endif %}Om het goed te maken, krijgt u van ons "
                  "{{ gesture }}."),
            sms="{{ apology }} {% if detail %}{{ detail }} {% endif %}Om het goed te maken: "
                "{{ gesture }}, code {{ code }}, geldig tot {{ expires }}. {{ page_url }}",
            sms_short="Code {{ code }} ({{ gesture }}), geldig tot {{ expires }}. "
                      "{{ page_url }}",
        ),
        "reminder": Message(
            subject="Herinnering: uw code verloopt op {{ expires_date }}",
            body=("Even een herinnering: uw code voor {{ gesture }} ligt nog voor u klaar, "
                  "maar niet lang meer.",),
            sms="Herinnering: uw code {{ code }} ({{ gesture }}) verloopt op {{ expires }}. "
                "{{ page_url }}",
            sms_short="Code {{ code }} verloopt op {{ expires }}. {{ page_url }}",
        ),
        "apology": Message(
            subject="Onze excuses: er is een probleem met uw bestelling",
            body=("{{ apology }}",
                  "{% if detail %}{{ detail }} {% endif %}We zijn ermee bezig en houden u op "
                  "de hoogte. Uw dossiernummer is {{ case_reference }}."),
            sms="{{ apology }} {% if detail %}{{ detail }} {% endif %}We zijn ermee bezig en "
                "houden u op de hoogte (dossier {{ case_reference }}).",
            sms_short="{% if detail %}{{ detail }} {% endif %}We zijn ermee bezig (dossier "
                      "{{ case_reference }}).",
        ),
        "incident_apology": Message(
            subject="Excuses van {{ brand }}",
            body=("{{ apology }}",
                  "Het spijt ons oprecht dat u hier last van hebt gehad. Hebt u iets nodig? "
                  "Neem dan contact met ons op en vermeld het kenmerk {{ case_reference }}."),
            sms="{{ apology }} Onze oprechte excuses (kenmerk {{ case_reference }}).",
            sms_short="{{ apology }}",
        ),
        "progress": Message(
            subject="Nieuws over uw dossier {{ case_reference }}",
            body=("Nieuws over uw dossier {{ case_reference }}: {{ detail }}",
                  "We zijn u niet vergeten en laten snel weer van ons horen."),
            sms="Dossier {{ case_reference }}: {{ detail }} We laten snel weer van ons horen.",
            sms_short="Dossier {{ case_reference }}: {{ detail }}",
        ),
        "feedback": Message(
            subject="Hoe hebben we het gedaan?",
            body=("We hopen dat alles rond uw dossier {{ case_reference }} nu weer in orde is.",
                  "Hoe hebben we het gedaan? {% if page_url %}Met één klik laat u het ons "
                  "weten.{% else %}Beantwoord gewoon dit bericht.{% endif %}"),
            button="Geef uw mening",
            sms="We hopen dat dossier {{ case_reference }} nu weer in orde is. Hoe hebben we "
                "het gedaan? {% if page_url %}Laat het ons weten: {{ page_url }}{% else %}"
                "Beantwoord gewoon dit bericht.{% endif %}",
            sms_short="Hoe hebben we het gedaan? {% if page_url %}{{ page_url }}{% else %}"
                      "Beantwoord dit bericht.{% endif %}",
        ),
        "thank_you": Message(
            subject="Hartelijk dank!",
            body=("Hartelijk dank dat u opnieuw bij ons hebt gekocht. Na het ongemak dat we u "
                  "hebben bezorgd, betekent dat veel voor ons.",
                  If("code", "Als klein bedankje krijgt u van ons {{ gesture }}.")),
            sms="Hartelijk dank voor uw nieuwe bestelling!{% if code %} Als bedankje: "
                "{{ gesture }}, code {{ code }}, geldig tot {{ expires }}. {{ page_url }}"
                "{% endif %}",
            sms_short="Hartelijk dank!{% if code %} Code {{ code }}, geldig tot {{ expires }}. "
                      "{{ page_url }}{% endif %}",
        ),
        "reinstatement": Message(
            subject="Goed nieuws: uw code is weer geldig tot {{ expires_date }}",
            body=("Goed nieuws: uw code voor {{ gesture }} is weer geldig. U kunt hem "
                  "gebruiken tot {{ expires }}.",),
            sms="Goed nieuws: uw code {{ code }} ({{ gesture }}) is weer geldig tot "
                "{{ expires }}. {{ page_url }}",
            sms_short="Code {{ code }} geldig tot {{ expires }}. {{ page_url }}",
        ),
    },
    notes={
        "approval_needed": Note(
            subject="Goedkeuring nodig: {{ incentive }} voor {{ customer }}",
            body=("{{ requester }} wil klant {{ customer }} {{ incentive }} ({{ amount }}) "
                  "geven.",
                  If("explanation", "Waarom uw goedkeuring nodig is: {{ explanation }}"),
                  If("note", "Notitie: {{ note }}"),
                  "Beslis vóór {{ deadline }}; daarna vervalt het verzoek."),
            link="Open de goedkeuringen",
        ),
        "approval_granted": Note(
            subject="Uw verzoek is goedgekeurd",
            body=("{{ decider }} heeft uw verzoek voor klant {{ customer }} goedgekeurd. Het "
                  "gebaar wordt naar de klant verstuurd.",
                  If("reason", "Toelichting: {{ reason }}")),
            link="Open het dossier",
        ),
        "approval_refused": Note(
            subject="Uw verzoek is afgewezen",
            body=("{{ decider }} heeft uw verzoek voor klant {{ customer }} afgewezen.",
                  If("reason", "Toelichting: {{ reason }}")),
            link="Open het dossier",
        ),
        "case_opened": Note(
            subject="Dossier {{ case_reference }} geopend door regel '{{ rule }}'",
            body=("De regel '{{ rule }}' heeft op {{ opened }} dossier {{ case_reference }} "
                  "geopend voor klant {{ customer }}: pakket {{ parcel }}, {{ why }}.",),
            link="Open het dossier",
        ),
        "invitation": Note(
            subject="U bent uitgenodigd voor de console van {{ brand }}",
            body=("U heeft een account in de Amends-console van {{ brand }}, waar het team "
                  "de dossiers en gebaren voor klanten behandelt.",
                  If("requester", "{{ requester }} heeft u uitgenodigd."),
                  "Kies uw wachtwoord met de link hieronder vóór {{ deadline }}. De link werkt "
                  "één keer; log daarna in met uw e-mailadres en dat wachtwoord."),
            link="Mijn wachtwoord kiezen",
        ),
        "password_reset": Note(
            subject="Kies een nieuw wachtwoord voor de console van {{ brand }}",
            body=("Er is een nieuw wachtwoord aangevraagd voor uw account in de "
                  "Amends-console van {{ brand }}.",
                  If("requester", "{{ requester }} heeft u deze link gestuurd."),
                  "Kies het met de link hieronder vóór {{ deadline }}. De link werkt één keer; "
                  "tot dan blijft uw huidige wachtwoord werken."),
            link="Nieuw wachtwoord kiezen",
        ),
    },
    phrases={
        "parcel_late": "Uw pakket {parcel} is vertraagd.",
        "still_chasing": "We blijven bij de vervoerder navragen waar uw pakket is.",
        "still_chasing_parcel": "We blijven bij de vervoerder navragen waar uw pakket "
                                "{parcel} is.",
        "order_late": "Uw bestelling {order} is vertraagd: pakket {parcel} is nog niet bij u "
                      "aangekomen.",
        "about_order": "Dit gaat over uw bestelling {order}.",
        "about_parcel": "Dit gaat over uw pakket {parcel}.",
        "order_of": "{order} ({items})",
        "parcel_by": "{parcel} van {carrier}",
        "more_items": "nog {count} artikelen",
    },
)
