-- As the by-type UNLOAD, into the by_source folder of the day.
UNLOAD ('SELECT report_date, source, currency, transactions, total_amount FROM daily_report_by_source WHERE report_date = CAST(''{{date}}'' AS DATE) ORDER BY source, currency')
TO '{{report_location}}dt={{date}}/by_source/' IAM_ROLE '{{unload_role_arn}}' FORMAT AS PARQUET ALLOWOVERWRITE PARALLEL OFF
