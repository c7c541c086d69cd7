"""The tick archive's bytes on disk on current ClickHouse, with the column codecs of
sql/003_ticks.sql: reads every row of a running server's `tickbar.ticks` (ClickHouse 18.16, which
has no codecs) over HTTP in Native format into a table created by the codec DDL in ClickHouse 26
in process (chdb, PyPI), merges it, and prints its bytes on disk per row.
Run by consumer/examples/archive_load.rs (deploy/bench-archive.sh) with the venv's python.

    python deploy/archive_codecs.py DDL_FILE SERVER_URL JSON_BYTES_PER_ROW
"""

import shutil
import sys
import tempfile
import urllib.parse

from chdb import session


def main():
    ddl_file, url, json_bytes = sys.argv[1], sys.argv[2].rstrip("/"), float(sys.argv[3])
    path = tempfile.mkdtemp(prefix="tickbar-codecs-")
    try:
        db = session.Session(path)
        version = db.query("SELECT version()", "CSV").bytes().decode().strip().strip('"')
        db.query("CREATE DATABASE IF NOT EXISTS tickbar")
        db.query(open(ddl_file, encoding="utf-8").read())
        source = url + "/?query=" + urllib.parse.quote("SELECT * FROM tickbar.ticks FORMAT Native")
        db.query(f"INSERT INTO tickbar.ticks SELECT * FROM url('{source}', 'Native')")
        db.query("OPTIMIZE TABLE tickbar.ticks FINAL")
        rows, size = db.query(
            "SELECT sum(rows), sum(bytes_on_disk) FROM system.parts "
            "WHERE database = 'tickbar' AND table = 'ticks' AND active",
            "CSV",
        ).bytes().decode().strip().split(",")
        per = int(size) / int(rows)
        print(f"ClickHouse {version} with the codecs: {size} bytes on disk after merges, "
              f"{per:.1f} a snapshot, 1/{json_bytes / per:.1f} of its JSON")
    finally:
        shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
