"""Runs the statements tickbar's services issued against ClickHouse 18.16 (captured from its
query_log by tests/tests/current_clickhouse.rs) again on current ClickHouse, in process through
chdb (PyPI): the DDL, every query with its bound values, and each INSERT with rows of its target
shape. Prints the version and what ran; exits 1 naming every statement that failed.

    python tests/chdb_check.py CAPTURE.json

CAPTURE.json: {"statements": [sql, ...], "rows": {insert_sql: [json_row, ...]}}
"""

import json
import re
import shutil
import sys
import tempfile

from chdb import session

INSERT = re.compile(r"^\s*INSERT\s+INTO\s+(.+?)\s+FORMAT\s+RowBinary\s*$", re.IGNORECASE | re.DOTALL)


def statements(capture):
    """Each captured statement as chdb runs it: an INSERT's RowBinary body becomes JSON rows."""
    for sql in capture["statements"]:
        insert = INSERT.match(sql)
        if insert:
            rows = capture["rows"].get(sql, [])
            if not rows:
                raise SystemExit(f"no rows captured for {sql!r}")
            yield sql, f"INSERT INTO {insert.group(1)} FORMAT JSONEachRow\n" + "\n".join(rows)
        else:
            yield sql, sql


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        capture = json.load(f)
    # A fresh on-disk session: no state shared with another run.
    path = tempfile.mkdtemp(prefix="tickbar-chdb-")
    try:
        failed = run(capture, session.Session(path))
    finally:
        shutil.rmtree(path, ignore_errors=True)
    sys.exit(1 if failed else 0)


def run(capture, db):
    """Runs every statement on `db`, prints what ran and what failed; the failures."""
    version = db.query("SELECT version()", "CSV").bytes().decode().strip().strip('"')
    db.query("SET session_timezone = 'Asia/Shanghai'")
    failed, ran = [], 0
    for shown, sql in statements(capture):
        try:
            db.query(sql, "CSV")
            ran += 1
        except Exception as e:  # chdb raises its own error type; any failure is reported
            failed.append(f"{shown}\n  -> {str(e).strip()[:500]}")
    print(f"ClickHouse {version} (chdb): {ran} of {ran + len(failed)} statements ran")
    for f in failed:
        print("FAILED:", f)
    return failed


if __name__ == "__main__":
    main()
