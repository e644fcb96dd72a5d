-- The contingency report, straight from raw when the pipeline failed: count and total per currency
-- and type. Basic on purpose: amounts cast leniently (a row whose amount does not cast is skipped),
-- no dedupe. The whole file runs in Athena as is; DuckDB has no UNLOAD, so the local stand-in runs
-- the inner SELECT (checked against both dialects) as COPY (…) TO a JSON file. Totals are strings so
-- JSON keeps their exact decimal value. Athena's UNLOAD refuses a destination that holds objects,
-- so each execution writes under its own run= folder: a day that fails twice has two fallbacks.
UNLOAD (
    SELECT
        '{{date}}' AS report_date,
        t.currency,
        t.type,
        COUNT(*) AS transactions,
        CAST(SUM(t.amount) AS VARCHAR) AS total_amount
    FROM (
        SELECT
            UPPER(TRIM(currency)) AS currency,
            LOWER(TRIM(type)) AS type,
            TRY_CAST(TRIM(amount) AS DECIMAL(18, 2)) AS amount
        FROM raw_transactions
        WHERE dt = '{{date}}'
    ) AS t
    WHERE t.amount IS NOT NULL
    GROUP BY t.currency, t.type
) TO '{{fallback_location}}dt={{date}}/run={{run}}/' WITH (format = 'JSON')
