"""The PostgreSQL rollup statement names every rolled-up dimension and reads only the snapshot table."""

from __future__ import annotations

from xueji.statistics.services import ROLLUP_DIMS, _rollup_sql


def test_rollup_sql_covers_every_dimension() -> None:
    sql = _rollup_sql()
    assert sql.lstrip().startswith("INSERT INTO")
    for dim in ROLLUP_DIMS:
        assert f"('{dim}'," in sql
    assert "statistics_statcell" in sql and "unnest(string_to_array" in sql
