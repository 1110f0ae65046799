# shellcheck shell=bash
# regress/bench/sensor_rows.sh - the sensor readings the COPY and SQL
# benchmarks load (sql_bench.sh, copy_ab.sh, copy_callgrind.sh), so that all
# three measure the same rows.  Sourced; nothing here runs on its own.
#
# Copyright (c) 2026, widecol developers

# sensor_csv_sql FILE: print the SQL that writes $READINGS readings of each of
# $DEVICES devices, in time order, to the CSV file FILE (same seed every time).
sensor_csv_sql() {
    cat <<SQL
SELECT setseed(0.42);
COPY (SELECT 'dev-' || lpad(d::text, 5, '0'),
             timestamptz '2024-01-01 00:00:00+00' + t * interval '1 minute',
             round((18 + 8 * sin(t / 240.0) + random())::numeric, 2),
             round((40 + 20 * random())::numeric, 1),
             round((100 - t * 0.02 - d % 7 - random())::numeric, 2),
             -95 + (random() * 50)::int
        FROM generate_series(0, $READINGS - 1) t, generate_series(0, $DEVICES - 1) d
       ORDER BY t, d)
  TO '$1' (FORMAT csv);
SQL
}
