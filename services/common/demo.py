"""The demo cooperative's census, shared by every service's own demo loader.

Each service loads only its own part (accounts the member records and movements, credit the loans,
deposit the term deposits, auth the portal users), but they must agree on who the members are:
the reference members of fixtures/reference_members.json plus generated members derived from a
fixed seed, so every run and every service sees the same people.
"""

import json
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from stdnum.ec import ci

from services.common.config import PROJECT_ROOT, env_int

REFERENCE_FILE = PROJECT_ROOT / "fixtures" / "reference_members.json"
SEED = 20261125
GENERATED_COUNT = env_int("DEMO_MEMBERS", 2000)
FIRST_GENERATED_NUMBER = 200001

GIVEN_MALE = [
    "Andrés",
    "Carlos",
    "Diego",
    "Fernando",
    "Gabriel",
    "Jorge",
    "Juan",
    "Luis",
    "Manuel",
    "Miguel",
    "Pablo",
    "Patricio",
    "Ricardo",
    "Santiago",
    "Sebastián",
    "Xavier",
    "Wilson",
    "Édison",
    "Ángel",
    "Byron",
]
GIVEN_FEMALE = [
    "Alejandra",
    "Ana",
    "Carolina",
    "Cristina",
    "Daniela",
    "Diana",
    "Gabriela",
    "Jessica",
    "Johanna",
    "Karina",
    "Lorena",
    "María",
    "Mónica",
    "Paola",
    "Rosa",
    "Sofía",
    "Verónica",
    "Ximena",
    "Inés",
    "Belén",
]
SURNAMES = [
    "Acosta",
    "Aguirre",
    "Almeida",
    "Andrade",
    "Benítez",
    "Bravo",
    "Cabrera",
    "Calle",
    "Carrión",
    "Castillo",
    "Cevallos",
    "Chávez",
    "Cruz",
    "Espinoza",
    "Flores",
    "Guamán",
    "Guerrero",
    "Jaramillo",
    "León",
    "Llerena",
    "López",
    "Maldonado",
    "Mora",
    "Morales",
    "Naranjo",
    "Ortiz",
    "Pazmiño",
    "Pérez",
    "Quishpe",
    "Ramírez",
    "Reyes",
    "Salazar",
    "Sánchez",
    "Suárez",
    "Tapia",
    "Torres",
    "Vásquez",
    "Vega",
    "Villacís",
    "Zambrano",
    "Yánez",
    "Ñauta",
    "Chimbo",
    "Lema",
    "Pilatásig",
    "Cárdenas",
]


@dataclass(frozen=True)
class CensusMember:
    member_number: str
    identification: str
    given_names: str
    surnames: str
    email: str
    phone: str
    joined_on: date
    # its entry in fixtures/reference_members.json; None for a generated member
    reference: dict[str, Any] | None = field(default=None, compare=False, hash=False)


def load_reference() -> list[dict[str, Any]]:
    with open(REFERENCE_FILE, encoding="utf-8") as fh:
        members: list[dict[str, Any]] = json.load(fh)["members"]
        return members


def days_ago(today: date, days: int) -> date:
    return today - timedelta(days=days)


def _ascii(text: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def make_cedula(rng: random.Random, used: set[str]) -> str:
    while True:
        province = rng.randint(1, 24)
        third = rng.randint(0, 5)
        body = f"{province:02d}{third}{rng.randint(0, 999999):06d}"
        # stdnum validates but does not compute the digit: take the one it accepts
        number = next(body + d for d in "0123456789" if ci.is_valid(body + d))
        if number not in used:
            used.add(number)
            return number


def census(today: date, count: int | None = None) -> list[CensusMember]:
    """Reference members first (exactly as the fixture says), then the generated ones."""
    count = GENERATED_COUNT if count is None else count
    members = []
    used: set[str] = set()
    for ref in load_reference():
        used.add(ref["identification"])
        members.append(
            CensusMember(
                member_number=ref["member_number"],
                identification=ref["identification"],
                given_names=ref["given_names"],
                surnames=ref["surnames"],
                email=ref["email"],
                phone=ref["phone"],
                joined_on=days_ago(today, ref["joined_days_ago"]),
                reference=ref,
            )
        )
    rng = random.Random(SEED)
    for i in range(count):
        given = " ".join(rng.sample(rng.choice((GIVEN_MALE, GIVEN_FEMALE)), 2))
        surnames = " ".join(rng.sample(SURNAMES, 2))
        number = str(FIRST_GENERATED_NUMBER + i)
        first, last = _ascii(given.split()[0]).lower(), _ascii(surnames.split()[0]).lower()
        members.append(
            CensusMember(
                member_number=number,
                identification=make_cedula(rng, used),
                given_names=given,
                surnames=surnames,
                email=f"{first}.{last}{number[-4:]}@example.com",
                phone=f"09{rng.randint(10000000, 99999999)}",
                joined_on=days_ago(today, rng.randint(120, 3650)),
            )
        )
    return members


def member_rng(member_number: str, salt: str) -> random.Random:
    """A random generator of its own for one member and one purpose: stable across runs."""
    return random.Random(f"{SEED}:{salt}:{member_number}")
