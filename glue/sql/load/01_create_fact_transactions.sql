-- The fact table, one row per event_id across all days (the key MERGE matches on). Varchar sizes are
-- bytes in Redshift: the transform refuses fields over 256 characters, which always fit in 1024.
CREATE TABLE IF NOT EXISTS fact_transactions (
    event_id VARCHAR(1024) NOT NULL,
    event_time TIMESTAMP NOT NULL,
    event_date DATE NOT NULL,
    account_id VARCHAR(1024) NOT NULL,
    amount DECIMAL(18, 2) NOT NULL,
    currency CHAR(3) NOT NULL,
    type VARCHAR(16) NOT NULL,
    source VARCHAR(1024) NOT NULL,
    PRIMARY KEY (event_id)
)
