"""A fictional Dutch nursing home, so every screen has something real to show.

Everything goes through the domain functions, exactly as a user's actions would. The clock is
moved as it goes, so the demo has a year of history: the first inventory eleven months ago,
new rules most months since, the spring session five months ago (with follow-up actions, some
overdue by now), and the open sessions and the colleagues' reports now.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, time, timedelta

from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from audit.core import clock
from audit.core.errors import AuditError
from audit.domain import (
    actions,
    ballots,
    categories,
    concerns,
    council,
    decisions,
    experiments,
    organisation,
    protocols,
    rule_reports,
    rules,
    sessions,
    strategies,
    users,
)
from audit.store.db import transaction
from audit.store.schema import DEFAULT_REFERENCE_LABEL_EN, DEFAULT_REFERENCE_LABEL_NL

ORGANISATION = "Zorgcentrum De Lindehof"
LOCATIONS = ["Lindehof Noord", "Lindehof Zuid"]
TEAMS = {
    "Vlinder": "Lindehof Noord",  # psychogeriatrie
    "Zonnebloem": "Lindehof Noord",
    "Eikenhout": "Lindehof Zuid",
    "Waterlelie": "Lindehof Zuid",
}
# username, display name, role, teams
PEOPLE = [
    ("beheer", "Mark Jansen", "admin", []),
    ("kwaliteit", "Ilse de Vries", "quality", []),
    ("bestuur", "Henk Bakker", "viewer", []),
    ("anouk", "Anouk Visser", "member", ["Vlinder"]),
    ("daan", "Daan Smit", "member", ["Vlinder"]),
    ("fatima", "Fatima El Amrani", "member", ["Vlinder", "Zonnebloem"]),
    ("joost", "Joost Mulder", "member", ["Zonnebloem"]),
    ("sanne", "Sanne de Boer", "member", ["Zonnebloem"]),
    ("kees", "Kees van Dijk", "member", ["Eikenhout"]),
    ("lotte", "Lotte Meijer", "member", ["Eikenhout"]),
    ("noor", "Noor Hendriks", "member", ["Waterlelie"]),
    ("ruben", "Ruben de Graaf", "member", ["Waterlelie"]),
]


PROTOCOLS = [
    ("Protocol eten, drinken en hygiëne", "2.1"),
    ("Protocol medicatieveiligheid", "3.0"),
    ("Protocol vrijheid en veiligheid", "1.4"),
    ("Huisregels De Lindehof", "2024"),
]
# code, title, description, category (Dutch name), protocol index or None, scope (teams or
# locations, empty = whole organisation), minutes per week, relation impact, values,
# perceived origin, verified origin, source reference, status, review due
RULES = [
    (
        "Geen zelfgebakken taart van familie",
        "Familie mag geen zelfgemaakt gebak meenemen; alleen verpakt gebak uit de winkel.",
        "Eten en drinken",
        0,
        [],
        20,
        "hinders",
        ["autonomy", "dignity"],
        "inspectorate",
        "interpretation",
        "Hygiënecode voor kleine instellingen",
        "active",
        "2025-06-01",
    ),
    (
        "Iedereen om 8 uur gewassen en aangekleed",
        "De ochtendzorg is om 8.00 uur klaar, zodat het ontbijt samen kan beginnen.",
        "Dagritme en wonen",
        None,
        ["Vlinder", "Zonnebloem"],
        600,
        "hinders",
        ["autonomy", "dignity"],
        "organisation",
        "team",
        "Teamoverleg 2017",
        "active",
        None,
    ),
    (
        "Dubbele controle bij risicovolle medicatie",
        "Insuline en opiaten worden door twee collega's gecontroleerd voor toediening.",
        "Medicatie",
        1,
        [],
        120,
        "neutral",
        ["safety"],
        "law",
        "professional_standard",
        "Veilige principes in de medicatieketen",
        "active",
        "2027-01-01",
    ),
    (
        "Bezoek alleen tussen 14 en 20 uur",
        "Buiten deze tijden is bezoek niet welkom op de afdeling.",
        "Bezoek en familie",
        3,
        [],
        30,
        "hinders",
        ["autonomy", "dignity"],
        "inspectorate",
        "organisation",
        "Huisregels 2019",
        "under_review",
        None,
    ),
    (
        "Valrisico in kaart bij opname",
        "Binnen een week na opname wordt het valrisico beoordeeld.",
        "Veiligheid en vallen",
        2,
        [],
        60,
        "supports",
        ["safety"],
        "professional_standard",
        "professional_standard",
        "Richtlijn valpreventie",
        "active",
        None,
    ),
    (
        "Elke dienst rapporteren, ook zonder bijzonderheden",
        "Iedere dienst schrijft per bewoner een regel in het dossier.",
        "Verslaglegging en overdracht",
        None,
        [],
        900,
        "hinders",
        ["privacy"],
        "law",
        "organisation",
        "Kwaliteitsafspraak 2018",
        "active",
        "2024-12-31",
    ),
    (
        "Geen huisdieren op de afdeling",
        "Ook niet op bezoek.",
        "Huishouding en omgeving",
        3,
        ["Lindehof Zuid"],
        15,
        "hinders",
        ["autonomy"],
        "inspectorate",
        "team",
        "",
        "active",
        None,
    ),
    (
        "Afdelingsdeur altijd op slot",
        "De deur van de afdeling gaat dag en nacht op slot.",
        "Vrijheidsbeperking",
        2,
        ["Vlinder"],
        45,
        "hinders",
        ["autonomy", "independence"],
        "law",
        "interpretation",
        "Wet zorg en dwang",
        "active",
        "2025-09-01",
    ),
    (
        "Toestemming vastleggen bij vrijheidsbeperking",
        "Elke vrijheidsbeperkende maatregel staat met toestemming en evaluatie in het zorgplan.",
        "Vrijheidsbeperking",
        2,
        [],
        90,
        "neutral",
        ["autonomy", "safety"],
        "law",
        "law",
        "Wzd art. 2 en 10",
        "active",
        None,
    ),
    (
        "Incidenten melden binnen 24 uur",
        "Een MIC-melding wordt binnen een dag na het voorval gedaan.",
        "Veiligheid en vallen",
        None,
        [],
        60,
        "neutral",
        ["safety"],
        "law",
        "interpretation",
        "Wkkgz art. 9",
        "active",
        None,
    ),
    (
        "Bewoners koken niet zelf",
        "De keuken op de afdeling is alleen voor medewerkers.",
        "Eten en drinken",
        0,
        ["Eikenhout"],
        10,
        "hinders",
        ["independence", "autonomy"],
        "inspectorate",
        "team",
        "",
        "active",
        None,
    ),
    (
        "Geen sieraden aan de handen tijdens zorg",
        "Ringen, horloges en armbanden af tijdens de verzorging.",
        "Hygiëne en infectiepreventie",
        0,
        [],
        5,
        "neutral",
        ["safety"],
        "professional_standard",
        "professional_standard",
        "Richtlijn handhygiëne",
        "active",
        None,
    ),
    (
        "Dagelijks koelkastcontrole op de kamer",
        "De houdbaarheid in de koelkast van elke bewoner wordt dagelijks gecontroleerd.",
        "Eten en drinken",
        0,
        [],
        140,
        "hinders",
        ["privacy", "autonomy"],
        "inspectorate",
        "organisation",
        "",
        "active",
        "2025-03-01",
    ),
    (
        "Elk uur een nachtronde langs alle bewoners",
        "Ook langs wie goed slaapt en niet gestoord wil worden.",
        "Dagritme en wonen",
        None,
        ["Lindehof Noord"],
        420,
        "hinders",
        ["privacy", "dignity"],
        "inspectorate",
        "team",
        "",
        "active",
        None,
    ),
    (
        "Familie helpt niet bij de maaltijd",
        "Voeden gebeurt alleen door medewerkers.",
        "Eten en drinken",
        0,
        ["Waterlelie"],
        0,
        "hinders",
        ["dignity", "autonomy"],
        "inspectorate",
        "team",
        "",
        "under_review",
        None,
    ),
    (
        "Schoonmaakmiddelen alleen van de keurmerklijst",
        "",
        "Huishouding en omgeving",
        None,
        [],
        10,
        "neutral",
        ["safety"],
        "certification",
        "certification",
        "Keurmerk schoonmaak",
        "active",
        None,
    ),
    (
        "Maandelijks wegen",
        "Iedere bewoner wordt elke maand gewogen.",
        "Eten en drinken",
        0,
        [],
        60,
        "neutral",
        ["safety"],
        "professional_standard",
        "professional_standard",
        "Richtlijn ondervoeding",
        "active",
        None,
    ),
    (
        "Geen kaarsen op de kamer",
        "",
        "Veiligheid en vallen",
        3,
        [],
        5,
        "neutral",
        ["safety", "autonomy"],
        "law",
        "financier",
        "Polisvoorwaarden brandverzekering",
        "active",
        None,
    ),
    (
        "Zorgplan binnen zes weken besproken",
        "Het zorgplan wordt binnen zes weken na opname met bewoner en familie besproken.",
        "Verslaglegging en overdracht",
        None,
        [],
        60,
        "supports",
        ["autonomy"],
        "law",
        "law",
        "Besluit zorgplanbespreking Wlz",
        "active",
        None,
    ),
    (
        "Uitjes met één begeleider per bewoner",
        "Zonder genoeg begeleiders gaat het uitje niet door.",
        "Activiteiten en uitjes",
        None,
        [],
        120,
        "hinders",
        ["independence"],
        "inspectorate",
        "organisation",
        "",
        "active",
        None,
    ),
    (
        "Bewoners gaan niet alleen naar buiten",
        "",
        "Vrijheidsbeperking",
        2,
        ["Vlinder", "Eikenhout"],
        60,
        "hinders",
        ["autonomy", "independence"],
        "inspectorate",
        "team",
        "",
        "active",
        None,
    ),
    (
        "Post wordt door de zorg geopend",
        "Brieven worden opengemaakt en voorgelezen.",
        "Privacy en dossier",
        None,
        ["Zonnebloem"],
        30,
        "hinders",
        ["privacy", "dignity"],
        "organisation",
        None,
        "",
        "active",
        None,
    ),
    (
        "Geen alcohol op de afdeling",
        "",
        "Eten en drinken",
        3,
        [],
        10,
        "hinders",
        ["autonomy"],
        "law",
        None,
        "",
        "active",
        None,
    ),
    (
        "Elke ochtend bloeddruk meten",
        "Bij alle bewoners, ongeacht indicatie.",
        "Medicatie",
        1,
        ["Eikenhout"],
        210,
        "hinders",
        ["dignity"],
        "professional_standard",
        None,
        "",
        "active",
        None,
    ),
    (
        "Medicatie alleen door BIG-geregistreerden",
        "Helpenden mogen geen medicatie aanreiken.",
        "Medicatie",
        1,
        [],
        180,
        "hinders",
        ["independence"],
        "law",
        "unknown",
        "",
        "active",
        None,
    ),
    (
        "Handschoenen bij elk contact",
        "",
        "Hygiëne en infectiepreventie",
        0,
        [],
        30,
        "hinders",
        ["dignity"],
        "inspectorate",
        None,
        "",
        "active",
        None,
    ),
    (
        "Bewonerskamers om 22 uur donker",
        "",
        "Dagritme en wonen",
        3,
        ["Lindehof Zuid"],
        35,
        "hinders",
        ["autonomy"],
        "team",
        None,
        "",
        "active",
        None,
    ),
    (
        "Overdracht mondeling en schriftelijk",
        "Elke overdracht gebeurt zowel mondeling als in het dossier.",
        "Verslaglegging en overdracht",
        None,
        [],
        300,
        "neutral",
        ["safety"],
        "professional_standard",
        "organisation",
        "Werkafspraak 2020",
        "adapted",
        None,
    ),
    (
        "Douchen twee keer per week op vaste dagen",
        "",
        "Persoonlijke verzorging",
        None,
        ["Waterlelie"],
        240,
        "hinders",
        ["autonomy", "dignity"],
        "financier",
        "team",
        "",
        "active",
        None,
    ),
    (
        "Privacyverklaring bij foto's van activiteiten",
        "Foto's worden alleen gemaakt met schriftelijke toestemming.",
        "Privacy en dossier",
        None,
        [],
        15,
        "supports",
        ["privacy"],
        "law",
        "law",
        "AVG art. 6",
        "active",
        None,
    ),
    (
        "Afmelden bij de balie voor een wandeling buiten",
        "Wie zelfstandig naar buiten gaat, meldt bij de receptie hoe laat en waarheen.",
        "Veiligheid en vallen",
        2,
        ["Eikenhout"],
        45,
        "hinders",
        ["autonomy"],
        "inspectorate",
        None,
        "",
        "proposed",
        None,
    ),
]


# A rule added by hand after the inventory, answering the mirror questions: the demo asks new
# rules to start as proposed, so it waits for a team session (docs/design.md, "The mirror
# check"). Its line in RULES has status "proposed"; these are its answers.
HORIZON_MONTHS = 12
MIRROR_ANSWERS = {
    "Afmelden bij de balie voor een wandeling buiten": {
        "problem": "Een bewoner was een middag onvindbaar; achteraf bleek hij naar de markt"
        " gelopen, maar niemand wist waar hij was.",
        "alternatives": "Afspraken per bewoner in het zorgplan, en een kaartje met het"
        " telefoonnummer van de afdeling in de jaszak.",
    },
}


# A rule of the register that came in as a colleague's report (anonymous), accepted by the
# quality manager: title -> (reporter, team, minutes per shift, why).
FROM_REPORTS = {
    "Douchen twee keer per week op vaste dagen": (
        "noor",
        "Waterlelie",
        30,
        "Wie vaker wil douchen moet wachten tot zijn vaste dag; dat voelt niet als thuis.",
    ),
}

# Reports of colleagues in every other state: reporter, named?, team, title, perceived origin,
# minutes per shift, effect, why, and what the quality manager did with it
# ("attach:<rule title>", "decline:<reason>", "withdraw", or None while it waits).
REPORTS = [
    (
        "anouk",
        False,
        "Vlinder",
        "Geen bloemen van familie op de kamer",
        "inspectorate",
        5,
        "hinders",
        "Familie neemt bloemen mee en wij moeten ze weer meegeven; niemand weet waarom.",
        None,
    ),
    (
        "daan",
        True,
        "Vlinder",
        "Elke avond de kledingkast opruimen",
        None,
        15,
        "neutral",
        "",
        None,
    ),
    (
        "joost",
        False,
        "Zonnebloem",
        "Koelkast op de kamer elke dag nakijken",
        "law",
        20,
        "hinders",
        "Bewoners voelen zich gecontroleerd in hun eigen kamer.",
        "attach:Dagelijks koelkastcontrole op de kamer",
    ),
    (
        "sanne",
        True,
        "Zonnebloem",
        "Koelkastcontrole",
        "inspectorate",
        10,
        "hinders",
        "Kost elke ochtend tijd die ik liever aan het ontbijt besteed.",
        "attach:Dagelijks koelkastcontrole op de kamer",
    ),
    (
        "fatima",
        False,
        "Zonnebloem",
        "Elke dienst schriftelijk rapporteren",
        "law",
        15,
        "hinders",
        "Ook als er niets te melden is.",
        "attach:Elke dienst rapporteren, ook zonder bijzonderheden",
    ),
    (
        "kees",
        True,
        "Eikenhout",
        "Handen wassen voor en na elke bewoner",
        "professional_standard",
        20,
        "neutral",
        "",
        "decline:Dit is een richtlijn voor infectiepreventie en geen eigen regel; die houden we.",
    ),
    (
        "lotte",
        False,
        "Eikenhout",
        "Niet samen met bewoners koken",
        "inspectorate",
        None,
        "hinders",
        "",
        "withdraw",
    ),
    (
        "ruben",
        False,
        "Waterlelie",
        "Vaste tijden voor de koffie",
        "organisation",
        10,
        "hinders",
        "Bewoners willen koffie als ze wakker zijn, niet om half elf.",
        None,
    ),
]


def _seed_reports(db: Database, team_ids: dict, secret: str) -> None:
    facilitator = users.find_user(db, "kwaliteit")
    for reporter, named, team, title, perceived, minutes, impact, why, outcome in REPORTS:
        user = users.find_user(db, reporter)
        report = rule_reports.submit(
            db,
            secret,
            user,
            title=title,
            team_id=team_ids[team],
            perceived_origin=perceived,
            minutes=minutes,
            period="shift",
            relation_impact=impact,
            why=why,
            named=named,
        )
        action, _, detail = (outcome or "").partition(":")
        if action == "attach":
            rule_reports.attach(db, facilitator, report.id, _rule_ids(db, [detail])[0])
        elif action == "decline":
            rule_reports.decline(db, facilitator, report.id, detail)
        elif action == "withdraw":
            rule_reports.withdraw(db, secret, user, report.id)


# How many months ago each rule of RULES was entered: the first eighteen in the first inventory,
# the others one or two a month since (rules keep coming; the question is whether as many go),
# the last one, added by hand through the mirror check, this month.
FIRST_INVENTORY = 11
_MINUTE = timedelta(minutes=1)
ENTERED_MONTHS_AGO = [FIRST_INVENTORY] * 18 + [10, 10, 9, 8, 7, 7, 6, 4, 4, 3, 2, 1, 0]
SPRING_SESSION = 5  # months ago


def months_ago(now: datetime, months: int, day: int = 8, minute: int = 0) -> datetime:
    """Nine in the morning (UTC) on ``day`` of the month ``months`` before ``now``'s."""
    year, month = divmod(now.year * 12 + now.month - 1 - months, 12)
    return datetime(year, month + 1, min(day, 28), 9, minute, tzinfo=UTC)


def _seed_register(
    db: Database,
    actor: users.User,
    team_ids: dict,
    location_ids: dict,
    secret: str,
    now: datetime,
) -> None:
    protocol_ids = [
        protocols.save_protocol(db, actor, name=name, version=version)["id"]
        for name, version in PROTOCOLS
    ]
    held = False
    for (
        title,
        description,
        category,
        protocol,
        scope,
        minutes,
        impact,
        values,
        perceived,
        verified,
        reference,
        status,
        review_due,
    ), months in zip(RULES, ENTERED_MONTHS_AGO, strict=True):
        if months < SPRING_SESSION and not held:
            _seed_spring_session(db, team_ids, now)
            held = True
        # Never past now: this month's rule is entered a minute after the last, at the latest.
        clock.set(min(now, max(clock.now(), months_ago(now, months, day=8 + months % 5)) + _MINUTE))
        answers = MIRROR_ANSWERS.get(title)
        if answers is not None:  # added by hand, as the rule form does
            answers = {
                **answers,
                "review_due": organisation.add_months(clock.today(), HORIZON_MONTHS // 2),
            }
        values = dict(
            **(answers or {"review_due": review_due}),
            title=title,
            description=description,
            category_id=categories.find_category(db, category)["id"],
            protocol_id=protocol_ids[protocol] if protocol is not None else None,
            team_ids=[team_ids[s] for s in scope if s in team_ids],
            location_ids=[location_ids[s] for s in scope if s in location_ids],
            owner="Ilse de Vries" if verified else "",
            minutes_per_week=minutes,
            relation_impact=impact,
            values_touched=values,
            status=status,
            perceived_origin=perceived,
            verified_origin=verified,
            source_reference=reference,
            introduced_on="2019-03-12",
        )
        if title not in FROM_REPORTS:
            rules.create_rule(db, actor, by_hand=answers is not None, **values)
            continue
        reporter, team, minutes_per_shift, why = FROM_REPORTS[title]
        report = rule_reports.submit(
            db,
            secret,
            users.find_user(db, reporter),
            title=title,
            team_id=team_ids[team],
            perceived_origin=perceived,
            minutes=minutes_per_shift,
            period="shift",
            relation_impact=impact,
            why=why,
        )
        rule_reports.accept_as_new_rule(db, actor, report.id, **values)


def _rule_ids(db: Database, titles: list[str]) -> list[int]:
    ids = []
    for title in titles:
        row = db.execute("SELECT id FROM rules WHERE title = ?", [title]).fetchone()
        ids.append(row[0])
    return ids


# rule (of the spring session), kind, text
SPRING_CONCERNS = [
    (
        "night",
        "inspectorate",
        "Wat zegt de inspectie als iemand 's nachts valt en we een uur niet zijn langs geweest?",
    ),
    ("night", "incident", "Vorig jaar lag een bewoner een uur op de grond voor we het zagen."),
    (
        "door",
        "reaction",
        "Familie schrikt als ze de deur open zien en hun moeder op de gang tegenkomen.",
    ),
]


def _seed_spring_session(db: Database, team_ids: dict, now: datetime) -> None:
    """A finished show-of-hands session with applied decisions, in spring: so the dashboard
    shows hours given back and rules going out."""
    clock.set(months_ago(now, SPRING_SESSION, day=20))
    facilitator = users.find_user(db, "kwaliteit")
    spring = sessions.create_session(
        db,
        facilitator,
        title="Schrapsessie Vlinder, voorjaar",
        introduction="We kijken samen naar vier regels uit de ochtend en de nacht.",
        team_ids=[team_ids["Vlinder"]],
        rule_ids=_rule_ids(
            db,
            [
                "Iedereen om 8 uur gewassen en aangekleed",
                "Elk uur een nachtronde langs alle bewoners",
                "Afdelingsdeur altijd op slot",
                "Toestemming vastleggen bij vrijheidsbeperking",
            ],
        ),
        mode="hands",
    )
    sessions.open_session(db, facilitator, spring.id)
    morning, night, door, consent = spring.rule_ids
    ballots.enter_hands(
        db,
        facilitator,
        spring.id,
        present=6,
        counts={
            morning: {"keep": 0, "adapt": 5, "drop": 1, "abstain": 0},
            night: {"keep": 1, "adapt": 1, "drop": 4, "abstain": 0},
            door: {"keep": 2, "adapt": 2, "drop": 2, "abstain": 0},
            consent: {"keep": 6, "adapt": 0, "drop": 0, "abstain": 0},
        },
    )
    # Concerns ("beren op de weg") raised in the room, written down without a name.
    for rule_id, kind, text in SPRING_CONCERNS:
        concerns.add_in_room(
            db, facilitator, spring.id, {"night": night, "door": door}[rule_id], kind, text
        )
    clock.advance(2 * 3600)
    sessions.close_session(db, facilitator, spring.id)
    clock.advance(24 * 3600)  # decided, applied and a concern answered the next day
    # One of them answered after the session; the others still wait for an answer.
    asked = next(c for c in concerns.listed(db, spring)[night] if c["kind"] == "inspectorate")
    ballots.answer_concern(
        db,
        facilitator,
        spring.id,
        night,
        asked["key"],
        "De inspectie vraagt geen vaste rondes, wel zorg die past bij het zorgplan. Bij wie"
        " valt of onrustig slaapt, gaat de nachtdienst vaker langs; dat staat in het zorgplan.",
        expected_answer_version=asked["answer_version"],
    )
    decisions.record_decision(
        db,
        facilitator,
        spring.id,
        morning,
        outcome="adapt",
        rationale="Bewoners bepalen zelf wanneer de dag begint; het ontbijt schuift mee.",
        new_title="Ochtendzorg in het ritme van de bewoner",
        new_description="Wie wil uitslapen, slaapt uit. Het ontbijt staat tot 10 uur klaar.",
        new_minutes_per_week=200,
        strategy_id=strategies.by_key(db, "client_view")["id"],
    )
    decisions.record_decision(
        db,
        facilitator,
        spring.id,
        night,
        outcome="drop",
        rationale="Alleen nog een ronde bij wie dat nodig heeft volgens het zorgplan.",
    )
    decisions.record_decision(
        db,
        facilitator,
        spring.id,
        consent,
        outcome="keep",
        rationale="Verplicht volgens de Wzd, en het team vindt het zinvol.",
    )
    # The session is shared with the client council, whose member (the viewer) gives its
    # advice on the morning rule before it is applied.
    council.share(db, facilitator, spring.id, True)
    council.record_advice(
        db,
        users.find_user(db, "bestuur"),
        spring.id,
        morning,
        advised_on=clock.today() - timedelta(days=1),
        advice="Laat bewoners zelf bepalen wanneer ze opstaan; vraag het bij de intake na.",
        followed="yes",
        expected_version=0,
    )
    for rule_id in (morning, night, consent):
        decisions.apply_decision(db, facilitator, spring.id, rule_id)
    _seed_actions(db, spring.id, {"morning": morning, "night": night, "consent": consent}, now)


# Follow-up actions on the spring decisions: rule, what, owner, due (days after the decision,
# or None: a month from today), and whether it was done two weeks after the session. Five months
# on, the ones due in spring and not done are overdue; one is done, one is due after today.
ACTIONS = [
    ("morning", "Familie informeren over het nieuwe ochtendritme", "anouk", 21, False),
    ("morning", "Zorgplannen bijwerken met het gewenste ochtendritme", "daan", 14, True),
    ("night", "Nachtdienst instrueren: ronde alleen volgens zorgplan", "kwaliteit", 10, True),
    ("night", "Protocol nachtzorg aanpassen in het kwaliteitssysteem", "kwaliteit", None, False),
    ("consent", "Wzd-registratie toelichten in het teamoverleg", "fatima", 45, False),
]


def _seed_actions(db: Database, session_id: int, rule_ids: dict, now: datetime) -> None:
    facilitator = users.find_user(db, "kwaliteit")
    created = []
    for rule, what, owner, days, done in ACTIONS:
        due = clock.today() + timedelta(days=days) if days else (now + timedelta(days=30)).date()
        action = actions.create_action(
            db,
            facilitator,
            session_id,
            rule_ids[rule],
            what=what,
            owner_id=users.find_user(db, owner).id,
            due_on=due,
        )
        created.append((action, owner, done))
    clock.advance(timedelta(days=14))
    for action, owner, done in created:
        if done:
            actions.mark_done(
                db,
                users.find_user(db, owner),
                action.id,
                expected_version=action.version,
                note="Besproken in de overdracht." if owner != "kwaliteit" else "",
            )


# Waterlelie tries without two rules (docs/design.md, "Experiments"): decided four months ago,
# one for 8 weeks (ended, waiting for a decision) and one for 26 (still running).
EXPERIMENTS_AGO = 4  # months
EXPERIMENTS = [
    ("Familie helpt niet bij de maaltijd", 8),
    ("Douchen twee keer per week op vaste dagen", 26),
]
OBSERVATIONS = [
    # rule index, who, days after the start, what, effect, incident
    (
        0,
        "noor",
        9,
        "Dochter van mevrouw K. hielp bij het avondeten; mevrouw at alles op.",
        "supports",
        "",
    ),
    (0, "ruben", 23, "Familie was er niet bij de lunch; niemand miste iets.", "neutral", ""),
    (
        0,
        "kwaliteit",
        40,
        "Een bezoeker gaf te grote happen; de EVV-er legde uit hoe het wel kan.",
        "hinders",
        "Kort verslikken, direct opgevangen, geen gevolgen.",
    ),
    (1, "noor", 12, "Meneer B. douchte 's avonds, zoals thuis, en sliep beter.", "supports", ""),
    (
        1,
        "ruben",
        50,
        "Douchen op eigen verzoek kost niet meer tijd dan op vaste dagen.",
        "neutral",
        "",
    ),
]


def _seed_experiments(db: Database, team_ids: dict, now: datetime) -> None:
    clock.set(months_ago(now, EXPERIMENTS_AGO, day=3))
    facilitator = users.find_user(db, "kwaliteit")
    rule_ids = _rule_ids(db, [title for title, _weeks in EXPERIMENTS])
    session = sessions.create_session(
        db,
        facilitator,
        title="Schrapsessie Waterlelie: proberen zonder",
        team_ids=[team_ids["Waterlelie"]],
        rule_ids=rule_ids,
        mode="online",
        anonymous=False,
    )
    sessions.open_session(db, facilitator, session.id)
    sessions.close_session(db, facilitator, session.id)
    started = clock.today()
    for rule_id, (_title, weeks) in zip(rule_ids, EXPERIMENTS, strict=True):
        decisions.record_decision(
            db,
            facilitator,
            session.id,
            rule_id,
            outcome="experiment",
            rationale="Het team durft het aan; we kijken wat het de bewoners brengt.",
            experiment_weeks=weeks,
        )
        decisions.apply_decision(db, facilitator, session.id, rule_id)
    found = [experiments.for_rule(db, rule_id)[0]["id"] for rule_id in rule_ids]
    for index, who, days, what, effect, incident in OBSERVATIONS:
        clock.set(datetime.combine(started + timedelta(days=days), time(14), tzinfo=UTC))
        experiments.record_observation(
            db,
            users.find_user(db, who),
            found[index],
            observed_on=clock.today(),
            what=what,
            effect=effect,
            incident=bool(incident),
            incident_text=incident,
        )
    clock.set(now)


def _seed_sessions(db: Database, team_ids: dict, secret: str | None, now: datetime) -> None:
    """An open online session with some votes in it, and a draft, as of now: so members can
    vote."""
    clock.set(now)
    facilitator = users.find_user(db, "kwaliteit")

    autumn = sessions.create_session(
        db,
        facilitator,
        title="Schrapsessie Zonnebloem, najaar",
        introduction="Welke regels rond eten, post en rapportage kosten ons tijd zonder dat de"
        " bewoner er iets aan heeft?",
        team_ids=[team_ids["Zonnebloem"]],
        rule_ids=_rule_ids(
            db,
            [
                "Elke dienst rapporteren, ook zonder bijzonderheden",
                "Dagelijks koelkastcontrole op de kamer",
                "Post wordt door de zorg geopend",
                "Geen zelfgebakken taart van familie",
            ],
        ),
        mode="online",
        anonymous=True,
    )
    sessions.open_session(db, facilitator, autumn.id)
    if secret:
        votes = {"joost": ["drop", "adapt", "drop", "drop"], "sanne": ["adapt", "drop", "drop"]}
        for username, choices in votes.items():
            voter = users.find_user(db, username)
            for rule_id, choice in zip(autumn.rule_ids, choices, strict=False):
                ballots.cast_vote(db, secret, voter, autumn.id, rule_id, choice)
        # A concern raised with a vote: only its member sees it until the session has closed.
        ballots.cast_vote(
            db,
            secret,
            users.find_user(db, "joost"),
            autumn.id,
            autumn.rule_ids[3],
            "drop",
            concern=("incident", "Als iemand ziek wordt van de taart, krijgen wij de schuld."),
        )

    sessions.create_session(
        db,
        facilitator,
        title="Schrapsessie Eikenhout",
        team_ids=[team_ids["Eikenhout"]],
        rule_ids=_rule_ids(db, ["Bewoners koken niet zelf", "Elke ochtend bloeddruk meten"]),
        mode="online",
        anonymous=False,
    )


def seed(db: Database, secret: str | None = None) -> list[tuple[str, str, str]]:
    """Load the demo into an empty database; return (username, role, password) per login.

    With the app's secret the open session also gets a few (anonymous) votes."""
    if users.count_users(db):
        raise AuditError(
            _l("The database already has users; the demo loads only into an empty one.")
        )
    logins = []
    now = clock.now()
    with transaction(db), clock.set(months_ago(now, FIRST_INVENTORY, day=1)):
        organisation.update_settings(
            db,
            None,
            name=ORGANISATION,
            default_language="nl",
            reference_share=0.7,
            reference_label_nl=DEFAULT_REFERENCE_LABEL_NL,
            reference_label_en=DEFAULT_REFERENCE_LABEL_EN,
            review_horizon_months=HORIZON_MONTHS,
            new_rules_proposed=True,
            # The client council is asked on rules of residents' daily lives (docs/design.md,
            # "Client council advice"); the demo's viewer is its account.
            council_advice="ask",
        )
        daily = categories.find_category(db, "Eten en drinken")
        categories.save_category(
            db,
            None,
            name_nl=daily["name_nl"],
            name_en=daily["name_en"],
            category_id=daily["id"],
            daily_life=True,
        )
        location_ids = {
            name: organisation.save_location(db, None, name)["id"] for name in LOCATIONS
        }
        team_ids = {
            name: organisation.save_team(db, None, name, location_ids[loc])["id"]
            for name, loc in TEAMS.items()
        }
        for username, display_name, role, teams in PEOPLE:
            password = secrets.token_urlsafe(9)
            users.create_user(
                db,
                None,
                username=username,
                password=password,
                role=role,
                display_name=display_name,
                team_ids=[team_ids[t] for t in teams],
            )
            logins.append((username, role, password))
        # Without the app's secret the anonymous reports get a key nobody holds: they are in the
        # inbox, but their reporters cannot find them under "my reports".
        report_secret = secret or secrets.token_hex(16)
        _seed_register(
            db, users.find_user(db, "kwaliteit"), team_ids, location_ids, report_secret, now
        )
        _seed_sessions(db, team_ids, secret, now)
        # After the open sessions, whose ids the tests know; dated four months back.
        _seed_experiments(db, team_ids, now)
        _seed_reports(db, team_ids, report_secret)
    return logins
