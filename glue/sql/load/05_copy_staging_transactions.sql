-- The whole curated partition of the day (the Glue job replaces it on every run).
COPY staging_transactions FROM '{{curated_location}}dt={{date}}/' IAM_ROLE '{{copy_role_arn}}' FORMAT AS PARQUET
