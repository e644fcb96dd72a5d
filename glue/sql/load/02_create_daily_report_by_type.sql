-- The daily report per type and currency (amounts of different currencies never add up).
CREATE TABLE IF NOT EXISTS daily_report_by_type (
    report_date DATE NOT NULL,
    type VARCHAR(16) NOT NULL,
    currency CHAR(3) NOT NULL,
    transactions BIGINT NOT NULL,
    total_amount DECIMAL(38, 2) NOT NULL
)
