-- The daily report per source and currency.
CREATE TABLE IF NOT EXISTS daily_report_by_source (
    report_date DATE NOT NULL,
    source VARCHAR(1024) NOT NULL,
    currency CHAR(3) NOT NULL,
    transactions BIGINT NOT NULL,
    total_amount DECIMAL(38, 2) NOT NULL
)
