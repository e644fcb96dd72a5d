-- Count and total per type and currency for the day, from the fact table.
INSERT INTO daily_report_by_type (report_date, type, currency, transactions, total_amount)
SELECT CAST('{{date}}' AS DATE), type, currency, COUNT(*), SUM(amount)
FROM fact_transactions
WHERE event_date = CAST('{{date}}' AS DATE)
GROUP BY type, currency
