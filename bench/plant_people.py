"""People and customers of the sample plant: staff with roles and qualifications, and the
hospitals and distributors it ships to. Deterministic from the seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from bench.plant_catalog import PlantSize
from ontology.codes import RoleName

__all__ = ["QUALIFICATIONS", "Customer", "StaffMember", "customers", "staff"]

#: qualification → (name, training document)
QUALIFICATIONS: dict[str, tuple[str, str]] = {
    "Q-CLEANROOM": ("ISO 7 cleanroom gowning and behaviour", "SOP-GEN-002"),
    "Q-IMM": ("Injection moulding machine operation", "SOP-MLD-010"),
    "Q-EXT": ("Tubing extrusion line operation", "SOP-EXT-010"),
    "Q-UVB": ("UV bonding (hub, needle, tubing)", "SOP-ASY-020"),
    "Q-LEAK": ("Leak, pull and flow testing", "SOP-ASY-040"),
    "Q-SEAL": ("Pouch sealing and UDI labelling", "SOP-PKG-050"),
    "Q-PACK": ("Case packing and SSCC labelling", "SOP-PKG-060"),
    "Q-EO": ("EO sterilisation cycle operation", "SOP-STE-070"),
    "Q-QC": ("In-process and final inspection", "SOP-QC-001"),
    "Q-QA-REL": ("Batch record review and release", "SOP-QA-010"),
    "Q-CAL": ("Calibration and metrology", "SOP-MET-001"),
}
_OPERATOR_QUALS = ("Q-IMM", "Q-EXT", "Q-UVB", "Q-LEAK", "Q-SEAL", "Q-PACK", "Q-EO")

_FIRST = ("Aoife", "Ciaran", "Niamh", "Sean", "Maria", "Tomasz", "Priya", "Liam", "Chloe",
          "Darragh", "Ana", "Oisin", "Fatima", "Eoin", "Sofia", "Jakub", "Grace", "Rory",
          "Mei", "Cormac", "Laura", "Patrick", "Ines", "Declan", "Hannah", "Rafael", "Siobhan",
          "Kevin", "Olga", "Brian")
_LAST = ("Murphy", "Kelly", "O'Sullivan", "Walsh", "Byrne", "Nowak", "Sharma", "Ryan",
         "Fitzgerald", "Costa", "Lynch", "Kowalski", "Doyle", "Silva", "McCarthy", "Chen",
         "Gallagher", "Burke", "Khan", "Quinn", "Moreau", "Brennan", "Garcia", "Horvath")


@dataclass(frozen=True)
class StaffMember:
    key: str                 #: employee number
    name: str
    role: RoleName
    title: str
    qualifications: tuple[str, ...]

    @property
    def username(self) -> str:
        first, _, last = self.name.partition(" ")
        return (first[0] + last).lower().replace("'", "")


def staff(size: PlantSize, seed: int) -> list[StaffMember]:
    """Everyone who works in the plant, operators first."""
    rng = random.Random(f"{seed}/staff")
    names: list[str] = []
    seen: set[str] = set()
    total = size.operators + 14
    while len(names) < total:
        n = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        u = (n[0] + n.partition(" ")[2]).lower()
        if n not in seen and u not in {(x[0] + x.partition(" ")[2]).lower() for x in names}:
            seen.add(n)
            names.append(n)
    out: list[StaffMember] = []
    for i in range(size.operators):
        k = len(_OPERATOR_QUALS)
        quals = ("Q-CLEANROOM", *sorted({_OPERATOR_QUALS[i % k], _OPERATOR_QUALS[(i + 2) % k],
                                         _OPERATOR_QUALS[(i + 4) % k]}))
        out.append(StaffMember(f"E{1001 + i}", names[i], RoleName.OPERATOR, "Production operator",
                               quals))
    others = (
        (RoleName.ENGINEER, "Process engineer, moulding", ("Q-IMM", "Q-EXT")),
        (RoleName.ENGINEER, "Process engineer, assembly", ("Q-CLEANROOM", "Q-UVB", "Q-LEAK")),
        (RoleName.ENGINEER, "Sterilisation engineer", ("Q-EO",)),
        (RoleName.ENGINEER, "Metrology technician", ("Q-CAL",)),
        (RoleName.ENGINEER, "Maintenance technician", ("Q-CAL",)),
        (RoleName.QC, "QC inspector", ("Q-CLEANROOM", "Q-QC")),
        (RoleName.QC, "QC inspector", ("Q-CLEANROOM", "Q-QC")),
        (RoleName.QC, "QC inspector", ("Q-CLEANROOM", "Q-QC")),
        (RoleName.QC, "QC laboratory lead", ("Q-QC",)),
        (RoleName.QA, "QA release specialist", ("Q-QA-REL",)),
        (RoleName.QA, "QA manager", ("Q-QA-REL",)),
        (RoleName.ENGINEER, "Production manager", ("Q-CLEANROOM",)),
        (RoleName.AUDITOR, "Internal auditor", ()),
        (RoleName.ADMIN, "IT/OT system administrator", ()),
    )
    for j, (role, title, quals) in enumerate(others):
        out.append(StaffMember(f"E{2001 + j}", names[size.operators + j], role, title, quals))
    return out


@dataclass(frozen=True)
class Customer:
    key: str
    name: str
    address: str
    country: str
    weight: float            #: relative order volume (distributors order more)


_CITIES = (  # city, country, street, postcode
    ("Dublin", "IE", "Eccles Street", "D07 R2WY"), ("Cork", "IE", "Wilton Road", "T12 DC4A"),
    ("Galway", "IE", "Newcastle Road", "H91 YR71"), ("London", "GB", "Euston Road", "NW1 2BU"),
    ("Manchester", "GB", "Oxford Road", "M13 9WL"), ("Berlin", "DE", "Charitéplatz", "10117"),
    ("Munich", "DE", "Ismaninger Str.", "81675"), ("Hamburg", "DE", "Martinistrasse", "20246"),
    ("Paris", "FR", "Rue de Sèvres", "75015"), ("Lyon", "FR", "Rue Garibaldi", "69003"),
    ("Madrid", "ES", "Calle del Dr. Esquerdo", "28007"), ("Barcelona", "ES", "Carrer Villarroel",
                                                            "08036"),
    ("Milan", "IT", "Via Francesco Sforza", "20122"), ("Rome", "IT", "Viale del Policlinico",
                                                       "00161"),
    ("Amsterdam", "NL", "Meibergdreef", "1105 AZ"), ("Brussels", "BE", "Avenue Hippocrate",
                                                     "1200"),
    ("Vienna", "AT", "Währinger Gürtel", "1090"), ("Zurich", "CH", "Rämistrasse", "8091"),
    ("Copenhagen", "DK", "Blegdamsvej", "2100"), ("Stockholm", "SE", "Eugeniavägen", "171 64"),
    ("Oslo", "NO", "Sognsvannsveien", "0372"), ("Warsaw", "PL", "ul. Banacha", "02-097"),
    ("Prague", "CZ", "U Nemocnice", "128 08"), ("Lisbon", "PT", "Av. Prof. Egas Moniz",
                                                 "1649-035"),
    ("Boston", "US", "Fruit Street", "MA 02114"), ("Chicago", "US", "N Lake Shore Dr",
                                                   "IL 60611"),
    ("Houston", "US", "Fannin Street", "TX 77030"), ("Toronto", "CA", "University Ave",
                                                     "ON M5G 2C4"),
    ("Sydney", "AU", "Missenden Rd", "NSW 2050"), ("Singapore", "SG", "Outram Road", "169608"),
)
_HOSPITAL_FORMS = ("{city} University Hospital", "St. {saint}'s Hospital {city}",
                   "{city} General Hospital", "Mater Misericordiae {city}",
                   "{city} Children's Hospital", "Royal {city} Infirmary",
                   "{city} Regional Medical Centre", "{city} Cancer Centre")
_SAINTS = ("Vincent", "James", "Mary", "Luke", "Thomas", "Anne", "Joseph", "Elizabeth")
_DISTRIBUTORS = ("MedSupply {country}", "{city} Surgical Distributors", "Hospital Logistics {city}",
                 "CarePoint {country} Wholesale")


def customers(size: PlantSize, seed: int) -> list[Customer]:
    """Hospitals (most) and distributors (fewer, larger orders); names are unique."""
    rng = random.Random(f"{seed}/customers")
    out: list[Customer] = []
    names: set[str] = set()
    while len(out) < size.customers:
        city, country, street, postcode = _CITIES[rng.randrange(len(_CITIES))]
        distributor = rng.random() < 0.2
        forms = _DISTRIBUTORS if distributor else _HOSPITAL_FORMS
        name = rng.choice(forms).format(city=city, country=country, saint=rng.choice(_SAINTS))
        if name in names:
            name = f"{name} ({rng.choice(('North', 'South', 'East', 'West', 'Campus 2'))})"
            if name in names:
                name = f"{name} - site {len(out) + 1}"
        names.add(name)
        n = len(out) + 1
        out.append(Customer(f"CUST-{n:05d}", name,
                            f"{rng.randint(1, 240)} {street}, {postcode} {city}", country,
                            rng.uniform(3, 8) if distributor else rng.uniform(0.5, 2)))
    return out
