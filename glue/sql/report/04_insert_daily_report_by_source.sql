-- Count and total per source and currency for the day, from the fact table.
INSERT INTO daily_report_by_source (report_date, source, currency, transactions, total_amount)
SELECT CAST('{{date}}' AS DATE), source, currency, COUNT(*), SUM(amount)
FROM fact_transactions
WHERE event_date = CAST('{{date}}' AS DATE)
GROUP BY source, currency
