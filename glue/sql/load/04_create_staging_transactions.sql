-- The day's curated rows, staged for the session only (batchExecuteStatement runs the stage in one
-- session, one transaction). Columns in the curated Parquet's order: COPY maps them by position.
CREATE TEMP TABLE staging_transactions (
    event_id VARCHAR(1024),
    event_time TIMESTAMP,
    account_id VARCHAR(1024),
    amount DECIMAL(18, 2),
    currency CHAR(3),
    type VARCHAR(16),
    source VARCHAR(1024),
    dt VARCHAR(10)
)
