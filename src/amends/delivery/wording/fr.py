"""French: "vous" throughout, the register of a good shop's customer service. Plain spaces
before : ; ? ! and inside « » are made non-breaking when the messages are built."""

from amends.delivery.wording import Gestures, If, Message, Note, Wording

WORDING = Wording(
    locale="fr",
    hello="Bonjour {name},",
    hello_nameless="Bonjour,",
    default_apology="Nous sommes sincèrement désolés pour ce désagrément et tenons à nous "
                    "rattraper.",
    expiry_at=lambda date, time: f"{date} à {time}",
    gestures=Gestures(
        percent_off="{percent} de réduction sur votre prochaine commande",
        amount_off="{amount} de réduction sur votre prochaine commande",
        gift_card="une carte cadeau d'une valeur de {amount}",
        free_item="un article gratuit",
        free_item_named="un article gratuit ({sku})",
        free_shipping="la livraison gratuite",
        free_shipping_months="la livraison gratuite pendant {months} mois",
    ),
    code_label="Votre code :",
    valid_until="Valable jusqu'au {{ expires }}.",
    how_to_use="Présentez-le en caisse ou saisissez-le lors de votre commande en ligne :",
    open_coupon="Afficher mon code",
    terms_label="Conditions :",
    sign_off="Bien cordialement,\nL'équipe {{ brand }}",
    questions="Une question ? Nous sommes là pour vous aider :",
    messages={
        "gesture": Message(
            subject="Avec nos excuses : {{ gesture }}",
            body=("{{ apology }}",
                  "{% if detail %}{{ detail }} {% endif %}Pour nous faire pardonner, nous vous "
                  "offrons {{ gesture }}."),
            sms="{{ apology }} {% if detail %}{{ detail }} {% endif %}Pour nous faire "
                "pardonner : {{ gesture }}, code {{ code }}, valable jusqu'au {{ expires }}. "
                "{{ page_url }}",
            sms_short="Code {{ code }} ({{ gesture }}), valable jusqu'au {{ expires }}. "
                      "{{ page_url }}",
        ),
        "reminder": Message(
            subject="Rappel : votre code expire le {{ expires_date }}",
            body=("Un petit rappel : votre code pour {{ gesture }} vous attend toujours, "
                  "mais plus pour très longtemps.",),
            sms="Rappel : votre code {{ code }} ({{ gesture }}) expire le {{ expires }}. "
                "{{ page_url }}",
            sms_short="Le code {{ code }} expire le {{ expires }}. {{ page_url }}",
        ),
        "apology": Message(
            subject="Toutes nos excuses : un problème est survenu avec votre commande",
            body=("{{ apology }}",
                  "{% if detail %}{{ detail }} {% endif %}Nous nous en occupons et revenons "
                  "vers vous dès que possible. Votre numéro de dossier : {{ case_reference }}."),
            sms="{{ apology }} {% if detail %}{{ detail }} {% endif %}Nous nous en occupons et "
                "revenons vers vous (dossier {{ case_reference }}).",
            sms_short="{% if detail %}{{ detail }} {% endif %}Nous nous en occupons (dossier "
                      "{{ case_reference }}).",
        ),
        "incident_apology": Message(
            subject="{{ brand }} vous présente ses excuses",
            body=("{{ apology }}",
                  "Nous sommes sincèrement désolés pour la gêne occasionnée. Pour toute "
                  "question, contactez-nous en indiquant la référence {{ case_reference }}."),
            sms="{{ apology }} Toutes nos excuses (référence {{ case_reference }}).",
            sms_short="{{ apology }}",
        ),
        "progress": Message(
            subject="Du nouveau sur votre dossier {{ case_reference }}",
            body=("Voici où en est votre dossier {{ case_reference }} : {{ detail }}",
                  "Nous ne vous oublions pas et vous écrirons de nouveau très bientôt."),
            sms="Dossier {{ case_reference }} : {{ detail }} Nous revenons vers vous très "
                "bientôt.",
            sms_short="Dossier {{ case_reference }} : {{ detail }}",
        ),
        "feedback": Message(
            subject="Qu'avez-vous pensé de notre service ?",
            body=("Nous espérons que tout est désormais rentré dans l'ordre pour votre "
                  "dossier {{ case_reference }}.",
                  "Qu'en avez-vous pensé ? {% if page_url %}Un clic suffit pour nous le dire."
                  "{% else %}Répondez simplement à ce message.{% endif %}"),
            button="Donner mon avis",
            sms="Nous espérons que tout est rentré dans l'ordre (dossier "
                "{{ case_reference }}). Qu'en avez-vous pensé ? {% if page_url %}Dites-le-nous "
                "ici : {{ page_url }}{% else %}Répondez simplement à ce message.{% endif %}",
            sms_short="Votre avis ? {% if page_url %}{{ page_url }}{% else %}Répondez à ce "
                      "message.{% endif %}",
        ),
        "thank_you": Message(
            subject="Merci !",
            body=("Merci d'avoir de nouveau fait vos achats chez nous. Après le désagrément "
                  "que nous vous avons causé, cela nous touche beaucoup.",
                  If("code", "Pour vous remercier, nous vous offrons {{ gesture }}.")),
            sms="Merci d'avoir de nouveau commandé chez nous !{% if code %} Pour vous "
                "remercier : {{ gesture }}, code {{ code }}, valable jusqu'au {{ expires }}. "
                "{{ page_url }}{% endif %}",
            sms_short="Merci !{% if code %} Code {{ code }}, valable jusqu'au {{ expires }}. "
                      "{{ page_url }}{% endif %}",
        ),
        "reinstatement": Message(
            subject="Bonne nouvelle : votre code est de nouveau valable jusqu'au "
                    "{{ expires_date }}",
            body=("Bonne nouvelle : votre code pour {{ gesture }} est de nouveau valable. "
                  "Vous pouvez l'utiliser jusqu'au {{ expires }}.",),
            sms="Bonne nouvelle : votre code {{ code }} ({{ gesture }}) est de nouveau "
                "valable jusqu'au {{ expires }}. {{ page_url }}",
            sms_short="Code {{ code }} valable jusqu'au {{ expires }}. {{ page_url }}",
        ),
    },
    notes={
        "approval_needed": Note(
            subject="Validation requise : {{ incentive }} pour {{ customer }}",
            body=("{{ requester }} souhaite accorder {{ incentive }} ({{ amount }}) au client "
                  "{{ customer }}.",
                  If("explanation", "Pourquoi votre accord est nécessaire : "
                                    "{{ explanation }}"),
                  If("note", "Sa note : {{ note }}"),
                  "Merci de décider avant le {{ deadline }} ; passé ce délai, la demande "
                  "expire."),
            link="Ouvrir les validations",
        ),
        "approval_granted": Note(
            subject="Votre demande a été acceptée",
            body=("{{ decider }} a accepté votre demande pour le client {{ customer }}. Le "
                  "geste commercial lui est envoyé.",
                  If("reason", "Motif : {{ reason }}")),
            link="Ouvrir le dossier",
        ),
        "approval_refused": Note(
            subject="Votre demande a été refusée",
            body=("{{ decider }} a refusé votre demande pour le client {{ customer }}.",
                  If("reason", "Motif : {{ reason }}")),
            link="Ouvrir le dossier",
        ),
        "case_opened": Note(
            subject="Dossier {{ case_reference }} ouvert par la règle « {{ rule }} »",
            body=("La règle « {{ rule }} » a ouvert le dossier {{ case_reference }} le "
                  "{{ opened }} pour le client {{ customer }} : colis {{ parcel }}, "
                  "{{ why }}.",),
            link="Ouvrir le dossier",
        ),
        "invitation": Note(
            subject="Vous êtes invité dans la console {{ brand }}",
            body=("Vous avez un compte dans la console Amends de {{ brand }}, où l'équipe "
                  "suit les dossiers et les gestes commerciaux des clients.",
                  If("requester", "{{ requester }} vous a invité."),
                  "Choisissez votre mot de passe avec le lien ci-dessous avant le "
                  "{{ deadline }}. Le lien ne sert qu'une fois ; connectez-vous ensuite avec "
                  "votre adresse e-mail et ce mot de passe."),
            link="Choisir mon mot de passe",
        ),
        "password_reset": Note(
            subject="Choisissez un nouveau mot de passe pour la console {{ brand }}",
            body=("Un nouveau mot de passe a été demandé pour votre compte dans la console "
                  "Amends de {{ brand }}.",
                  If("requester", "{{ requester }} vous a envoyé ce lien."),
                  "Choisissez-le avec le lien ci-dessous avant le {{ deadline }}. Le lien ne "
                  "sert qu'une fois ; d'ici là, votre mot de passe actuel fonctionne "
                  "toujours."),
            link="Choisir un nouveau mot de passe",
        ),
    },
    phrases={
        "parcel_late": "Votre colis {parcel} a du retard.",
        "still_chasing": "Nous continuons de relancer le transporteur au sujet de votre colis.",
        "still_chasing_parcel": "Nous continuons de relancer le transporteur au sujet de "
                                "votre colis {parcel}.",
        "order_late": "Votre commande {order} a du retard\u00a0: le colis {parcel} ne vous est pas "
                      "encore parvenu.",
        "about_order": "Ce message concerne votre commande {order}.",
        "about_parcel": "Ce message concerne votre colis {parcel}.",
        "order_of": "{order} ({items})",
        "parcel_by": "{parcel} confié à {carrier}",
        "more_items": "{count} autres articles",
    },
)
