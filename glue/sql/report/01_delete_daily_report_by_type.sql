-- The day's rows go first, so a rerun replaces them (the stage is one transaction: never half done).
DELETE FROM daily_report_by_type WHERE report_date = CAST('{{date}}' AS DATE)
