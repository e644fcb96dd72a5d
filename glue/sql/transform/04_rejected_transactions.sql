-- Every raw row that is not curated, with the values exactly as sent and a one-line reason, so
-- raw = curated + rejected holds exactly. Sorted on every column so reruns write the same rows.
SELECT
    d.event_id,
    d.event_time,
    d.account_id,
    d.amount,
    d.currency,
    d.type,
    d.source,
    d.reject_reason AS reason,
    '{{date}}' AS dt
FROM deduped AS d
WHERE d.reject_reason IS NOT NULL
ORDER BY reason NULLS LAST, event_id NULLS LAST, event_time NULLS LAST, account_id NULLS LAST, amount NULLS LAST,
    currency NULLS LAST, type NULLS LAST, source NULLS LAST
