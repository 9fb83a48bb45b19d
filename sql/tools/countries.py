#!/usr/bin/env python3
"""Prints the body of app.country(): every ISO 3166-1 alpha-2 country with its English
name, the currency in use (CLDR) and a default IANA time zone (tzdata zone.tab, the first
zone listed for the country, or the zone most people live in where that differs).

Run: python3 -m venv /tmp/v && /tmp/v/bin/pip install babel pycountry &&
     /tmp/v/bin/python sql/tools/countries.py > /tmp/countries.sql
     (then paste it as the body of app.country in sql/operations/common.sql)
"""
import datetime

import pycountry
from babel.numbers import get_territory_currencies

# Where the first zone.tab entry is not where most of the country lives.
MOST_POPULOUS = {
    "AU": "Australia/Sydney",
    "BR": "America/Sao_Paulo",
    "CA": "America/Toronto",
    "RU": "Europe/Moscow",
    "UA": "Europe/Kyiv",
    "ES": "Europe/Madrid",
    "PT": "Europe/Lisbon",
    "EC": "America/Guayaquil",
    "CL": "America/Santiago",
    "GL": "America/Nuuk",
    "KI": "Pacific/Tarawa",
    "FM": "Pacific/Pohnpei",
    "PF": "Pacific/Tahiti",
    "UZ": "Asia/Tashkent",
    "MN": "Asia/Ulaanbaatar",
}


def first_zones():
    zones = {}
    with open("/usr/share/zoneinfo/zone.tab") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            code, _coords, zone = line.split("\t")[:3]
            zones.setdefault(code, zone.strip())
    return zones


def quote(s):
    return "'" + s.replace("'", "''") + "'" if s is not None else "null"


def main():
    zones = first_zones()
    today = datetime.date.today()
    rows = []
    for c in sorted(pycountry.countries, key=lambda c: c.alpha_2):
        code = c.alpha_2
        currencies = get_territory_currencies(code, start_date=today, tender=True)
        currency = currencies[0] if currencies else None
        zone = MOST_POPULOUS.get(code, zones.get(code))
        name = getattr(c, "common_name", None) or c.name
        rows.append(f"    ({quote(code)}, {quote(name)}, {quote(currency)}, {quote(zone)})")
    print(",\n".join(rows))


if __name__ == "__main__":
    main()
