-- One row for the day: raw records against curated + rejected rows (duplicates are rejected rows,
-- so the equation is exact). Athena returns every value as a string; reconciled is 'true'/'false'.
SELECT
    r.raw_rows,
    c.curated_rows,
    j.rejected_rows,
    CASE WHEN r.raw_rows = c.curated_rows + j.rejected_rows THEN 'true' ELSE 'false' END AS reconciled
FROM (SELECT COUNT(*) AS raw_rows FROM raw_transactions WHERE dt = '{{date}}') AS r
CROSS JOIN (SELECT COUNT(*) AS curated_rows FROM curated_transactions WHERE dt = '{{date}}') AS c
CROSS JOIN (SELECT COUNT(*) AS rejected_rows FROM rejected_transactions WHERE dt = '{{date}}') AS j
