-- Parquet keeps the decimals and dates typed. PARALLEL OFF writes one file with a fixed name
-- (000.parquet; a daily aggregate never reaches the 6.2 GB split), so ALLOWOVERWRITE replaces it on
-- a rerun. Not CLEANPATH: that needs s3:DeleteObject, which the UNLOAD role is not granted (it may
-- only put objects under reports/dt=…). One folder per report table.
UNLOAD ('SELECT report_date, type, currency, transactions, total_amount FROM daily_report_by_type WHERE report_date = CAST(''{{date}}'' AS DATE) ORDER BY type, currency')
TO '{{report_location}}dt={{date}}/by_type/' IAM_ROLE '{{unload_role_arn}}' FORMAT AS PARQUET ALLOWOVERWRITE PARALLEL OFF
