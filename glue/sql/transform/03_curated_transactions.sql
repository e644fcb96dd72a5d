-- The curated day: typed, normalised, one row per event_id. dt is the partition value as a string
-- (the catalog's partition key type); the Parquet files carry it too, last, because Redshift's
-- COPY maps Parquet columns by position into the staging table. Sorted so reruns write the same rows;
-- NULLS spelled out everywhere: Spark sorts NULLs first ascending, DuckDB last.
SELECT
    d.id AS event_id,
    d.ts AS event_time,
    d.account AS account_id,
    d.amt AS amount,
    d.cur AS currency,
    d.typ AS type,
    d.src AS source,
    '{{date}}' AS dt
FROM deduped AS d
WHERE d.reject_reason IS NULL
ORDER BY event_id NULLS LAST
