-- The day's rows go first, so a rerun replaces them.
DELETE FROM daily_report_by_source WHERE report_date = CAST('{{date}}' AS DATE)
