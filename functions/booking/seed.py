"""Seed flights into the booking stack's flight table (demo, tests, a fresh deployment).

Departures are relative to now, so the seed never goes stale; one flight has departed on
purpose (the API must refuse it). Prices are in minor units.

    python functions/booking/seed.py --table <FlightTableName> [--endpoint-url http://127.0.0.1:4566]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class SeedFlight:
    id: str
    flight_number: str
    departure_code: str
    arrival_code: str
    departs_in: timedelta  # from now; negative: already departed
    duration: timedelta
    ticket_price: int  # minor units
    ticket_currency: str
    seats: int


SEED_FLIGHTS: tuple[SeedFlight, ...] = (
    SeedFlight("flight-ba117", "BA117", "LHR", "JFK", timedelta(days=7, hours=2),
               timedelta(hours=8), 45900, "GBP", 180),
    SeedFlight("flight-vs3", "VS3", "LHR", "JFK", timedelta(days=7, hours=5),
               timedelta(hours=8, minutes=5), 41250, "GBP", 220),
    SeedFlight("flight-ba112", "BA112", "JFK", "LHR", timedelta(days=14),
               timedelta(hours=7), 39900, "USD", 180),
    SeedFlight("flight-ib3163", "IB3163", "LHR", "MAD", timedelta(days=3),
               timedelta(hours=2, minutes=25), 12900, "EUR", 150),
    # Three seats: the demo books more than that at once.
    SeedFlight("flight-ba1440", "BA1440", "LHR", "EDI", timedelta(days=1, hours=3),
               timedelta(hours=1, minutes=20), 8900, "GBP", 3),
    SeedFlight("flight-ba175-departed", "BA175", "LHR", "JFK", timedelta(days=-1),
               timedelta(hours=8), 45900, "GBP", 180),
)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:00Z")


def flight_item(flight: SeedFlight, now: datetime) -> dict[str, Any]:
    """The flight as a low-level DynamoDB item: every seat for sale, none held or sold."""
    departs = (now + flight.departs_in).astimezone(UTC).replace(second=0, microsecond=0)
    return {
        "id": {"S": flight.id},
        "flightNumber": {"S": flight.flight_number},
        "departureCode": {"S": flight.departure_code},
        "arrivalCode": {"S": flight.arrival_code},
        "route": {"S": f"{flight.departure_code}-{flight.arrival_code}"},
        "departureDateTime": {"S": _iso(departs)},
        "arrivalDateTime": {"S": _iso(departs + flight.duration)},
        "ticketPrice": {"N": str(flight.ticket_price)},
        "ticketCurrency": {"S": flight.ticket_currency},
        "maximumSeating": {"N": str(flight.seats)},
        "seatCapacity": {"N": str(flight.seats)},
        "seatsHeld": {"N": "0"},
        "seatsSold": {"N": "0"},
    }


def seed_flights(client: Any, table: str, now: datetime | None = None,
                 flights: tuple[SeedFlight, ...] = SEED_FLIGHTS) -> list[dict[str, Any]]:
    """Write (or reset) the flights; returns the items written."""
    now = now or datetime.now(UTC)
    items = [flight_item(flight, now) for flight in flights]
    for item in items:
        client.put_item(TableName=table, Item=item)
    return items


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", required=True, help="the stack's FlightTableName output")
    parser.add_argument("--endpoint-url", help="e.g. a localcloud up: http://127.0.0.1:4566")
    parser.add_argument("--region", default=None)
    args = parser.parse_args(argv)
    import boto3

    client = boto3.client("dynamodb", endpoint_url=args.endpoint_url, region_name=args.region)
    items = seed_flights(client, args.table)
    json.dump([{"id": i["id"]["S"], "route": i["route"]["S"],
                "departureDateTime": i["departureDateTime"]["S"]} for i in items],
              sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
