-- Upsert keyed by event_id, so loading a day again leaves the table as it was. Redshift's MERGE takes
-- one WHEN MATCHED and one WHEN NOT MATCHED branch, and SET names target columns unqualified.
-- "type" is quoted (same column in Redshift and DuckDB) only because polyglot's MERGE grammar
-- takes a bare type for a keyword and would leave the file unchecked.
MERGE INTO fact_transactions
USING staging_transactions AS s
ON fact_transactions.event_id = s.event_id
WHEN MATCHED THEN UPDATE SET
    event_time = s.event_time,
    event_date = CAST(s.dt AS DATE),
    account_id = s.account_id,
    amount = s.amount,
    currency = s.currency,
    "type" = s.type,
    source = s.source
WHEN NOT MATCHED THEN INSERT (event_id, event_time, event_date, account_id, amount, currency, "type", source)
    VALUES (s.event_id, s.event_time, CAST(s.dt AS DATE), s.account_id, s.amount, s.currency, s.type, s.source)
