"""Phrases of the synthetic source's scenario events, per language (see `ingest.synthetic`).

Fields as in `ingest.synthetic_phrases` ({b} the entry, {a} its official account, {u} the
customer's first name, slots such as {place} {dur} {neg} {posa}), plus {p}: the trending
product's name and {tag}: its hashtag. `{w}` in the hashtags is the brand's short name.
"""

from __future__ import annotations

from ingest.synthetic.scenarios import Style

CRISIS_TAGS: dict[str, str] = {
    "all": "#{w}Down",
    "fr": "#Panne{w}",
    "en": "#{w}Outage",
    "es": "#Caida{w}",
    "de": "#{w}Ausfall",
}
"""A crisis's hashtags: one for every language, one per language."""

PRODUCTS = ("Nova", "Pulse", "Zen", "Prism", "Aura", "Spark", "Vibe", "Halo")
"""Names of the trending scenario's new product (one is picked per seed)."""

CRISIS: dict[str, tuple[str, ...]] = {
    "fr": (
        "{a} plus aucun réseau {dur} à {place}, c'est quoi cette panne ?!",
        "Panne générale chez {b} : ni internet ni téléphone {dur}. {neg}",
        "{b} en panne dans toute la France et le service client ne répond plus. {neg}",
        "Impossible d'appeler qui que ce soit avec {b} {dur}, c'est {nega}.",
        "{a} ça fait des heures que tout est coupé, vous comptez communiquer quand ? {neg}",
        "Toute la ville de {place} sans réseau {b}. {neg}",
        "Télétravail impossible, plus rien ne marche avec {b}. On exige un remboursement ! {neg}",
        "{a} panne totale à {place}, aucune info sur votre site. {neg}",
        "Encore une panne {b}, la troisième cette année. Je résilie. {neg}",
    ),
    "en": (
        "{a} no signal at all in {place} {dur}, what is going on?!",
        "{b} is down everywhere: no internet, no calls {dur}. {neg}",
        "Massive {b} outage and customer service isn't even answering. {neg}",
        "Can't call anyone with {b} {dur}, this is {nega}.",
        "{a} everything has been down for hours, when are you going to say something? {neg}",
        "The whole of {place} has no {b} network. {neg}",
        "Working from home is impossible, nothing works with {b}. We want refunds! {neg}",
        "{a} total outage in {place} and not a word on your website. {neg}",
        "Another {b} outage, the third this year. I'm cancelling. {neg}",
    ),
    "es": (
        "{a} sin señal en {place} {dur}, ¿qué está pasando?",
        "{b} caído en todas partes: ni internet ni llamadas {dur}. {neg}",
        "Caída masiva de {b} y atención al cliente ni contesta. {neg}",
        "No puedo llamar a nadie con {b} {dur}, es {nega}.",
        "{a} lleva horas todo caído, ¿cuándo vais a decir algo? {neg}",
        "Todo {place} sin red de {b}. {neg}",
        "Imposible teletrabajar, nada funciona con {b}. ¡Queremos un reembolso! {neg}",
        "Otra caída de {b}, la tercera este año. Me doy de baja. {neg}",
    ),
    "de": (
        "{a} kein Netz in {place} {dur}, was ist da los?!",
        "{b} überall ausgefallen: kein Internet, keine Anrufe {dur}. {neg}",
        "Riesige {b} Störung und der Kundenservice geht nicht mal ran. {neg}",
        "Ich kann mit {b} {dur} niemanden anrufen, einfach {nega}.",
        "{a} seit Stunden geht gar nichts, wann sagt ihr endlich was? {neg}",
        "Ganz {place} ohne {b} Netz. {neg}",
        "Homeoffice unmöglich, bei {b} geht nichts mehr. Wir wollen eine Erstattung! {neg}",
        "Schon wieder eine {b} Störung, die dritte dieses Jahr. Ich kündige. {neg}",
    ),
}
"""Outraged posts of a crisis burst (style complaint)."""

PHISH: dict[str, tuple[str, ...]] = {
    "fr": (
        "Bonjour {u}, ici le support {b}. Désolés pour la gêne ! Envoyez-nous en DM votre nom, "
        "votre numéro de téléphone et votre mot de passe client pour régler ça.",
        "Bonjour {u}, nous pouvons vous rembourser aujourd'hui. Écrivez-nous en privé avec votre "
        "numéro de carte et votre date de naissance pour vérifier votre compte {b}.",
        "{u}, le service client {b} est là pour vous. Pour l'indemnisation, envoyez en DM vos "
        "identifiants et le code reçu par SMS.",
        "Bonjour {u}, équipe {b} ici. Suivez-nous et envoyez votre IBAN et votre adresse en "
        "message privé, un conseiller s'en occupe.",
    ),
    "en": (
        "Hi {u}, {b} support here. So sorry about this! Please DM us your full name, phone "
        "number and account password so we can fix it right away.",
        "Hello {u}, we can refund you today. Send us a DM with your card number and date of "
        "birth to verify your {b} account.",
        "Hi {u}, this is the {b} help team. To process your compensation, DM us your account "
        "login and the code you receive by text.",
        "{u}, sorry for the trouble with {b}. Follow us and DM your email, password and billing "
        "address so an agent can help.",
    ),
    "es": (
        "Hola {u}, somos el soporte de {b}. ¡Sentimos las molestias! Envíanos por DM tu nombre "
        "completo, tu teléfono y tu contraseña para solucionarlo.",
        "Hola {u}, podemos reembolsarte hoy. Escríbenos por privado con el número de tu tarjeta "
        "y tu fecha de nacimiento para verificar tu cuenta {b}.",
        "{u}, te escribimos desde atención al cliente de {b}: para tramitar tu compensación, "
        "mándanos por DM tu usuario y el código que recibas por SMS.",
    ),
    "de": (
        "Hallo {u}, hier ist der {b} Support. Das tut uns leid! Schick uns per DM deinen vollen "
        "Namen, deine Telefonnummer und dein Passwort, dann lösen wir das sofort.",
        "Hallo {u}, wir können dir heute eine Erstattung geben. Schreib uns per DM deine "
        "Kartennummer und dein Geburtsdatum zur Verifizierung deines {b} Kontos.",
        "{u}, hier ist das {b} Kundenservice-Team. Für deine Entschädigung schick uns bitte "
        "deine Zugangsdaten und den SMS-Code per DM.",
    ),
}
"""An impostor's replies to customers: asking for personal details by DM (style care)."""

TREND: dict[str, tuple[tuple[Style, str], ...]] = {
    "fr": (
        ("news", "{b} lance {p}, sa nouvelle offre tout-en-un {tag}"),
        ("question", "Quelqu'un a testé {p} ? Ça vaut le coup ? {tag}"),
        ("praise", "Reçu {p} hier, franchement {posa}. {pos} {tag}"),
        ("chatter", "Tout le monde au bureau parle de {p} {tag}"),
        ("praise", "Installation de {p} en deux minutes, {posa} {tag}"),
        ("question", "{a} {p} arrive quand à {place} ? {tag}"),
        ("chatter", "La queue devant la boutique {b} de {place} pour {p} {tag}"),
        ("news", "{p} : ce que l'on sait de la nouvelle offre de {b} {tag}"),
    ),
    "en": (
        ("news", "{b} launches {p}, its new all-in-one plan {tag}"),
        ("question", "Has anyone tried {p}? Is it worth it? {tag}"),
        ("praise", "Got {p} yesterday and it's {posa}. {pos} {tag}"),
        ("chatter", "Everyone at work is talking about {p} {tag}"),
        ("praise", "{p} setup took two minutes, {posa} {tag}"),
        ("question", "{a} when is {p} coming to {place}? {tag}"),
        ("chatter", "Queue outside the {b} shop in {place} for {p} {tag}"),
        ("news", "{p}: what we know about the new {b} offer {tag}"),
    ),
    "es": (
        ("news", "{b} lanza {p}, su nueva oferta todo en uno {tag}"),
        ("question", "¿Alguien ha probado {p}? ¿Merece la pena? {tag}"),
        ("praise", "Me llegó {p} ayer y es {posa}. {pos} {tag}"),
        ("chatter", "En la oficina todo el mundo habla de {p} {tag}"),
        ("question", "{a} ¿cuándo llega {p} a {place}? {tag}"),
        ("news", "{p}: lo que sabemos de la nueva oferta de {b} {tag}"),
    ),
    "de": (
        ("news", "{b} startet {p}, das neue Komplettpaket {tag}"),
        ("question", "Hat jemand {p} schon ausprobiert? Lohnt sich das? {tag}"),
        ("praise", "Seit gestern {p} und es ist {posa}. {pos} {tag}"),
        ("chatter", "Im Büro reden alle über {p} {tag}"),
        ("question", "{a} wann kommt {p} nach {place}? {tag}"),
        ("news", "{p}: was wir über das neue Angebot von {b} wissen {tag}"),
    ),
}
"""Posts about the trending scenario's new product: (style, template)."""
