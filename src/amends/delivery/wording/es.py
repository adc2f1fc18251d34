"""Spanish (Spain): "usted" throughout, cordial without stiffness."""

from amends.delivery.wording import Gestures, If, Message, Note, Wording


def _at(date: str, time: str) -> str:
    # "a la 1:30", "a las 3:48": the article agrees with the hour.
    hour = time.split(":", 1)[0].lstrip("0")
    return f"{date} a la {time}" if hour == "1" else f"{date} a las {time}"


WORDING = Wording(
    locale="es",
    hello="Hola, {name}:",
    hello_nameless="Hola:",
    default_apology="Lamentamos mucho haberle fallado y queremos compensárselo.",
    expiry_at=_at,
    gestures=Gestures(
        percent_off="un {percent} de descuento en su próximo pedido",
        amount_off="{amount} de descuento en su próximo pedido",
        gift_card="una tarjeta regalo por valor de {amount}",
        free_item="un artículo gratis",
        free_item_named="un artículo gratis ({sku})",
        free_shipping="envío gratuito",
        free_shipping_months="envío gratuito durante {months} meses",
    ),
    code_label="Su código:",
    valid_until="Válido hasta el {{ expires }}.",
    how_to_use="Muéstrelo en caja o introdúzcalo al finalizar su compra en línea:",
    open_coupon="Ver mi código",
    terms_label="Condiciones:",
    sign_off="Un cordial saludo,\nEl equipo de {{ brand }}",
    questions="¿Alguna pregunta? Estamos aquí para ayudarle:",
    messages={
        "gesture": Message(
            subject="Con nuestras disculpas: {{ gesture }}",
            body=("{{ apology }}",
                  "{% if detail %}{{ detail }} {% endif %}Para compensarle, le ofrecemos "
                  "{{ gesture }}."),
            sms="{{ apology }} {% if detail %}{{ detail }} {% endif %}Para compensarle: "
                "{{ gesture }}, código {{ code }}, válido hasta el {{ expires }}. "
                "{{ page_url }}",
            sms_short="Código {{ code }} ({{ gesture }}), válido hasta el {{ expires }}. "
                      "{{ page_url }}",
        ),
        "reminder": Message(
            subject="Recordatorio: su código caduca el {{ expires_date }}",
            body=("Le recordamos que su código para {{ gesture }} le sigue esperando, pero "
                  "no por mucho tiempo.",),
            sms="Recordatorio: su código {{ code }} ({{ gesture }}) caduca el {{ expires }}. "
                "{{ page_url }}",
            sms_short="El código {{ code }} caduca el {{ expires }}. {{ page_url }}",
        ),
        "apology": Message(
            subject="Le pedimos disculpas: hay un problema con su pedido",
            body=("{{ apology }}",
                  "{% if detail %}{{ detail }} {% endif %}Ya nos estamos ocupando de ello y le "
                  "iremos informando. Su número de incidencia es {{ case_reference }}."),
            sms="{{ apology }} {% if detail %}{{ detail }} {% endif %}Ya nos estamos ocupando y "
                "le iremos informando (incidencia {{ case_reference }}).",
            sms_short="{% if detail %}{{ detail }} {% endif %}Nos estamos ocupando (incidencia "
                      "{{ case_reference }}).",
        ),
        "incident_apology": Message(
            subject="{{ brand }} le pide disculpas",
            body=("{{ apology }}",
                  "Sentimos de verdad las molestias que esto le ha causado. Si necesita algo, "
                  "contacte con nosotros indicando la referencia {{ case_reference }}."),
            sms="{{ apology }} Sentimos de verdad las molestias (referencia "
                "{{ case_reference }}).",
            sms_short="{{ apology }}",
        ),
        "progress": Message(
            subject="Novedades sobre su incidencia {{ case_reference }}",
            body=("Novedades sobre su incidencia {{ case_reference }}: {{ detail }}",
                  "No nos hemos olvidado de usted y le volveremos a escribir muy pronto."),
            sms="Incidencia {{ case_reference }}: {{ detail }} Le escribiremos de nuevo muy "
                "pronto.",
            sms_short="Incidencia {{ case_reference }}: {{ detail }}",
        ),
        "feedback": Message(
            subject="¿Qué le ha parecido nuestra atención?",
            body=("Esperamos que su incidencia {{ case_reference }} ya esté resuelta.",
                  "¿Qué le ha parecido nuestra atención? {% if page_url %}Basta un clic para "
                  "decírnoslo.{% else %}Simplemente responda a este mensaje.{% endif %}"),
            button="Dar mi opinión",
            sms="Esperamos que su incidencia {{ case_reference }} ya esté resuelta. ¿Qué le ha "
                "parecido? {% if page_url %}Díganoslo aquí: {{ page_url }}{% else %}"
                "Simplemente responda a este mensaje.{% endif %}",
            sms_short="¿Qué le ha parecido? {% if page_url %}{{ page_url }}{% else %}Responda "
                      "a este mensaje.{% endif %}",
        ),
        "thank_you": Message(
            subject="¡Muchas gracias!",
            body=("Gracias por volver a comprar con nosotros. Después de las molestias que le "
                  "causamos, significa mucho para nosotros.",
                  If("code", "Como pequeño agradecimiento, le ofrecemos {{ gesture }}.")),
            sms="¡Gracias por volver a comprar con nosotros!{% if code %} Como agradecimiento: "
                "{{ gesture }}, código {{ code }}, válido hasta el {{ expires }}. "
                "{{ page_url }}{% endif %}",
            sms_short="¡Gracias!{% if code %} Código {{ code }}, válido hasta el "
                      "{{ expires }}. {{ page_url }}{% endif %}",
        ),
        "reinstatement": Message(
            subject="Buenas noticias: su código vuelve a ser válido hasta el "
                    "{{ expires_date }}",
            body=("Buenas noticias: su código para {{ gesture }} vuelve a ser válido. Puede "
                  "usarlo hasta el {{ expires }}.",),
            sms="Buenas noticias: su código {{ code }} ({{ gesture }}) vuelve a ser válido "
                "hasta el {{ expires }}. {{ page_url }}",
            sms_short="Código {{ code }} válido hasta el {{ expires }}. {{ page_url }}",
        ),
    },
    notes={
        "approval_needed": Note(
            subject="Aprobación necesaria: {{ incentive }} para {{ customer }}",
            body=("{{ requester }} solicita conceder {{ incentive }} ({{ amount }}) al "
                  "cliente {{ customer }}.",
                  If("explanation", "Por qué requiere su aprobación: {{ explanation }}"),
                  If("note", "Su nota: {{ note }}"),
                  "Decida antes del {{ deadline }}; después, la solicitud caduca."),
            link="Abrir las aprobaciones",
        ),
        "approval_granted": Note(
            subject="Su solicitud ha sido aprobada",
            body=("{{ decider }} ha aprobado su solicitud para el cliente {{ customer }}. El "
                  "gesto ya se le está enviando.",
                  If("reason", "Motivo: {{ reason }}")),
            link="Abrir el caso",
        ),
        "approval_refused": Note(
            subject="Su solicitud ha sido rechazada",
            body=("{{ decider }} ha rechazado su solicitud para el cliente {{ customer }}.",
                  If("reason", "Motivo: {{ reason }}")),
            link="Abrir el caso",
        ),
        "case_opened": Note(
            subject="Caso {{ case_reference }} abierto por la regla «{{ rule }}»",
            body=("La regla «{{ rule }}» abrió el caso {{ case_reference }} el {{ opened }} "
                  "para el cliente {{ customer }}: paquete {{ parcel }}, {{ why }}.",),
            link="Abrir el caso",
        ),
        "invitation": Note(
            subject="Le invitamos a la consola de {{ brand }}",
            body=("Tiene una cuenta en la consola Amends de {{ brand }}, donde el equipo "
                  "atiende los casos y los gestos comerciales de los clientes.",
                  If("requester", "{{ requester }} le ha invitado."),
                  "Elija su contraseña con el enlace de abajo antes del {{ deadline }}. El "
                  "enlace funciona una sola vez; después, inicie sesión con su correo "
                  "electrónico y esa contraseña."),
            link="Elegir mi contraseña",
        ),
        "password_reset": Note(
            subject="Elija una nueva contraseña para la consola de {{ brand }}",
            body=("Se ha pedido una nueva contraseña para su cuenta en la consola Amends de "
                  "{{ brand }}.",
                  If("requester", "{{ requester }} le ha enviado este enlace."),
                  "Elíjala con el enlace de abajo antes del {{ deadline }}. El enlace funciona "
                  "una sola vez; hasta entonces, su contraseña actual sigue funcionando."),
            link="Elegir una nueva contraseña",
        ),
    },
    phrases={
        "parcel_late": "Su paquete {parcel} lleva retraso.",
        "still_chasing": "Seguimos en contacto con el transportista para localizar su paquete.",
        "still_chasing_parcel": "Seguimos en contacto con el transportista para localizar "
                                "su paquete {parcel}.",
        "order_late": "Su pedido {order} lleva retraso: el paquete {parcel} aún no le ha "
                      "llegado.",
        "about_order": "Le escribimos por su pedido {order}.",
        "about_parcel": "Le escribimos por su paquete {parcel}.",
        "order_of": "{order} ({items})",
        "parcel_by": "{parcel} de {carrier}",
        "more_items": "{count} artículos más",
    },
)
