-- Each row with its final reject reason (NULL: it is curated). Among the valid rows of one event_id
-- the latest event_time wins; ties go to a fixed order of the raw values, so a rerun keeps the same
-- row. An invalid resend never shadows a valid record: only valid rows compete (partition by
-- invalid_reason, NULL for all of them). ROW_NUMBER in a subquery: Spark and Athena have no QUALIFY.
SELECT
    ranked.*,
    COALESCE(ranked.invalid_reason, CASE WHEN ranked.rank_in_event > 1 THEN 'duplicate of a later record (same event_id)' END) AS reject_reason
FROM (
    SELECT
        p.*,
        ROW_NUMBER() OVER (
            PARTITION BY p.invalid_reason, p.id
            ORDER BY p.ts DESC NULLS LAST, p.event_time NULLS LAST, p.event_id NULLS LAST, p.account_id NULLS LAST,
                p.amount NULLS LAST, p.currency NULLS LAST, p.type NULLS LAST, p.source NULLS LAST
        ) AS rank_in_event
    FROM parsed AS p
) AS ranked
