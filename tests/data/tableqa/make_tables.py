"""Writes the tableqa documents (`python tests/data/tableqa/make_tables.py`): one table each, in PDF, Word,
HTML, Excel and CSV, as offices keep them. Uses the test helpers (fpdf2, python-docx, openpyxl)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from tests.documents import make_docx, make_table_pdf, make_xlsx  # noqa: E402

PRICES = [
    ("Service", "Price", "Duration"),
    ("Men's haircut", "28 EUR", "30 minutes"),
    ("Women's haircut", "42 EUR", "45 minutes"),
    ("Children's haircut (under 12)", "18 EUR", "20 minutes"),
    ("Beard trim", "15 EUR", "15 minutes"),
    ("Full colour", "75 EUR", "90 minutes"),
    ("Highlights", "95 EUR", "120 minutes"),
    ("Blow-dry", "25 EUR", "30 minutes"),
]
HOURS = [
    ("Day", "Opens", "Closes", "Notes"),
    ("Monday", "10:00", "18:00", "Study rooms from 12:00"),
    ("Tuesday", "10:00", "20:00", "Late opening"),
    ("Wednesday", "10:00", "18:00", ""),
    ("Thursday", "10:00", "20:00", "Late opening"),
    ("Friday", "10:00", "16:00", "Short day"),
    ("Saturday", "09:00", "13:00", "Children's corner open"),
    ("Sunday", "closed", "closed", "Book drop open all day"),
]
ERRORS = [
    ("Code", "Meaning", "What to do"),
    ("F1", "Water inlet too slow", "Open the tap fully and clean the inlet filter."),
    ("F2", "Water not draining", "Clean the drain filter at the bottom of the tub."),
    ("F3", "Heater fault", "Switch off at the mains and call service."),
    ("F4", "Door not closed", "Close the door until it clicks."),
    ("F5", "Leak detected", "Turn off the water supply and call service."),
    ("F6", "Temperature sensor fault", "Restart the machine; if it repeats, call service."),
]
SHIPPING = [
    ("Zone", "Parcel up to 2 kg", "Parcel up to 10 kg", "Delivery time"),
    ("Domestic", "4.90", "8.90", "1-2 working days"),
    ("EU neighbours", "9.50", "16.00", "2-4 working days"),
    ("Rest of EU", "12.00", "21.00", "3-6 working days"),
    ("Switzerland and UK", "18.00", "32.00", "4-8 working days"),
    ("Rest of world", "29.00", "55.00", "7-14 working days"),
]
PARKING = [
    ("Permit", "Monthly fee", "Where"),
    ("Staff car", "35 EUR", "Levels -1 and -2 of the garage"),
    ("Staff motorbike", "12 EUR", "Marked bays beside the north entrance"),
    ("Visitor (per day)", "8 EUR", "Level 0 of the garage"),
    ("Electric car with charging", "55 EUR", "Charging bays on level -1"),
    ("Bicycle", "free", "Covered racks by the main door"),
]


def _html(title: str, rows: list[tuple[str, ...]]) -> bytes:
    head = "".join(f"<th>{cell}</th>" for cell in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows[1:])
    return (
        f"<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1>"
        "<p>The display on the front panel shows a code when the dishwasher stops a programme.</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></body></html>"
    ).encode()


def main() -> None:
    docs = HERE / "docs"
    docs.mkdir(exist_ok=True)
    (docs / "salon_prices.pdf").write_bytes(make_table_pdf("Salon Bella price list", PRICES))
    intro = ["Riverside Library opening hours", "The library is closed on public holidays."]
    (docs / "library_hours.docx").write_bytes(make_docx(intro, HOURS))
    (docs / "dishwasher_errors.html").write_bytes(_html("Dishwasher DW-500 error codes", ERRORS))
    (docs / "shipping_rates.xlsx").write_bytes(make_xlsx({"Shipping rates": SHIPPING}))
    csv = "\n".join(",".join(f'"{cell}"' if "," in cell else cell for cell in row) for row in PARKING) + "\n"
    (docs / "parking_permits.csv").write_text(csv, encoding="utf-8")


if __name__ == "__main__":
    main()
