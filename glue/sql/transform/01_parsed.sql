-- The day's raw rows, trimmed, normalised and cast, each with the first check it fails (NULL when it
-- passes all). Shared subset of Spark SQL 3.5 and DuckDB: every cast is TRY_CAST, because Spark's
-- plain CAST returns NULL on bad input where DuckDB's fails; no regular expressions (their function
-- names and match semantics differ), TRANSLATE/INSTR/LIKE instead.
SELECT
    n.*,
    CASE
        -- Spark's PERMISSIVE JSON reader (and the stand-in) turn a line that is not a JSON object into
        -- a row of NULLs: it is still a raw record, so it must end up somewhere.
        WHEN n.event_id IS NULL AND n.event_time IS NULL AND n.account_id IS NULL AND n.amount IS NULL
            AND n.currency IS NULL AND n.type IS NULL AND n.source IS NULL
            THEN 'no fields: not a JSON object, or an empty one'
        WHEN n.id IS NULL OR n.id = '' THEN 'missing event_id'
        WHEN n.ts IS NULL THEN 'event_time missing or not ISO 8601 UTC (YYYY-MM-DDThh:mm:ss[.fff]Z)'
        WHEN TRY_CAST(n.ts AS DATE) <> TRY_CAST('{{date}}' AS DATE) THEN 'event date is not {{date}}: a record in the wrong partition'
        WHEN n.account IS NULL OR n.account = '' THEN 'missing account_id'
        WHEN n.amt IS NULL THEN 'amount missing or not a decimal with at most 2 fraction digits'
        WHEN NOT (LENGTH(n.cur) = 3 AND TRANSLATE(n.cur, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', '') = '') THEN 'currency is not a 3-letter code'
        WHEN n.typ IS NULL OR n.typ NOT IN ('credit', 'debit', 'fee', 'refund') THEN 'unknown type'
        WHEN n.src IS NULL OR n.src = '' THEN 'missing source'
        -- The warehouse columns hold 1024 bytes: 256 characters of at most 4 bytes each always fit.
        WHEN LENGTH(n.id) > 256 OR LENGTH(n.account) > 256 OR LENGTH(n.src) > 256 THEN 'a field is longer than 256 characters'
    END AS invalid_reason
FROM (
    SELECT
        r.event_id,
        r.event_time,
        r.account_id,
        r.amount,
        r.currency,
        r.type,
        r.source,
        TRIM(r.event_id) AS id,
        -- Only the contract's form (UTC, 'Z'): engines disagree on other offsets (DuckDB ignores them).
        CASE WHEN TRIM(r.event_time) LIKE '____-__-__T__:__:__%Z' THEN TRY_CAST(TRIM(r.event_time) AS TIMESTAMP) END AS ts,
        TRIM(r.account_id) AS account,
        -- Exactly [-]digits[.d[d]]: a cast alone would round a third fraction digit away, or take '1e2'.
        CASE
            WHEN TRANSLATE(TRIM(r.amount), '0123456789', '') IN ('', '.', '-', '-.')
                AND INSTR(TRIM(r.amount), '-') IN (0, 1)
                AND (INSTR(TRIM(r.amount), '.') = 0 OR LENGTH(TRIM(r.amount)) - INSTR(TRIM(r.amount), '.') IN (1, 2))
                THEN TRY_CAST(TRIM(r.amount) AS DECIMAL(18, 2))
        END AS amt,
        UPPER(TRIM(r.currency)) AS cur,
        LOWER(TRIM(r.type)) AS typ,
        LOWER(TRIM(r.source)) AS src
    FROM raw_transactions AS r
) AS n
