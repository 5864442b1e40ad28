"""`inventory-service import-consumption FILE.csv`: real daily consumption into consumption_history.

The file has the header item_code,date,quantity and one row per item and day (date YYYY-MM-DD, quantity a
non-negative number). Every row is checked first and every problem reported with its line number; one bad row
means nothing is imported. Imported rows have source 'import': derivation never overwrites them.
"""
import csv
import datetime
import math

from . import consumption, db

HEADER = ["item_code", "date", "quantity"]
MAX_ERRORS = 20


class ImportFailed(ValueError):
    def __init__(self, errors):
        super().__init__("; ".join(errors))
        self.errors = errors


def _row(number, row, seen):
    if len(row) != 3:
        return None, "line %d: %d fields, expected 3 (item_code,date,quantity)" % (number, len(row))
    code, day, quantity = (value.strip() for value in row)
    if not code:
        return None, "line %d: empty item_code" % number
    try:
        day = datetime.date.fromisoformat(day).isoformat()
    except ValueError:
        return None, "line %d: date %r is not YYYY-MM-DD" % (number, day)
    try:
        value = float(quantity)
    except ValueError:
        return None, "line %d: quantity %r is not a number" % (number, quantity)
    if not math.isfinite(value) or value < 0:
        return None, "line %d: quantity %r must be a finite number >= 0" % (number, quantity)
    if (code, day) in seen:
        return None, "line %d: %s %s already given on line %d" % (number, code, day, seen[(code, day)])
    seen[(code, day)] = number
    return (code, day, value, number), None


def read_csv(path):
    """[(item_code, day, quantity, line)] of a valid file; ImportFailed listing the problems otherwise."""
    rows, errors, seen = [], [], {}
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if [field.strip().lower() for field in header or []] != HEADER:
                raise ImportFailed(["%s line 1: header must be %s, found %s"
                                    % (path, ",".join(HEADER), ",".join(header or []) or "nothing")])
            for row in reader:
                if not any(field.strip() for field in row):
                    continue
                parsed, error = _row(reader.line_num, row, seen)
                if error:
                    errors.append("%s %s" % (path, error))
                else:
                    rows.append(parsed)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ImportFailed(["%s: cannot read: %s" % (path, exc)]) from None
    if errors:
        raise ImportFailed(errors[:MAX_ERRORS] + (["... and %d more" % (len(errors) - MAX_ERRORS)]
                                                 if len(errors) > MAX_ERRORS else []))
    if not rows:
        raise ImportFailed(["%s: no rows after the header" % path])
    return rows


def import_csv(db_path, path, create_items=False):
    rows = read_csv(path)
    codes = sorted(set(row[0] for row in rows))
    with db.connection(db_path) as conn:
        with db.transaction(conn):
            known = set(row[0] for row in conn.execute("SELECT item_code FROM item_master"))
            unknown = [code for code in codes if code not in known]
            if unknown and not create_items:
                first = {}
                for code, _day, _quantity, line in rows:
                    first.setdefault(code, line)
                raise ImportFailed(["%s line %d: unknown item_code %s; add it to the item master or pass "
                                    "--create-items" % (path, first[code], code) for code in unknown[:MAX_ERRORS]])
            conn.executemany("INSERT INTO item_master (item_code, name) VALUES (?, ?)",
                             [(code, code) for code in unknown])
            consumption.import_rows(conn, [row[:3] for row in rows])
    days = sorted(row[1] for row in rows)
    return {"imported": len(rows), "items": len(codes), "created_items": len(unknown),
            "first_date": days[0], "last_date": days[-1], "file": str(path)}
