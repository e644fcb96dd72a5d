"""Glue 5.0 (Spark 3.5) job: one day of raw transactions into curated and rejects Parquet.

Thin on purpose: the logic lives in the transform SQL (glue/sql/transform), which the tests run in
DuckDB. This script reads the day, runs those files in name order and writes the two final views.
"""

import re
import sys
from datetime import date as calendar_date

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext
from pyspark.sql.functions import lit
from pyspark.sql.types import StringType, StructField, StructType

# GLUE_JOB_ARGUMENTS in functions/shared/contract.ts, without the leading "--".
ARGUMENTS = ["JOB_NAME", "date", "raw_path", "curated_path", "rejects_path", "sql_path"]
# RAW_TRANSACTION_COLUMNS: every field a string, as sent; the SQL casts.
RAW_COLUMNS = ["event_id", "event_time", "account_id", "amount", "currency", "type", "source"]
SQL_FILE = re.compile(r"^\d+_([a-z][a-z0-9_]*)\.sql$")
OUTPUTS = (("curated_transactions", "curated_path"), ("rejected_transactions", "rejects_path"))


def report_date(value):
    """The value when it is YYYY-MM-DD and a real calendar day, else None."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value or ""):
        return None
    try:
        calendar_date.fromisoformat(value)
    except ValueError:
        return None
    return value


def folder(path):
    return path if path.endswith("/") else path + "/"


def sql_files(spark_context, sql_path):
    """(view name, text) of every NN_<view>.sql under sql_path, in name order."""
    files = []
    for path, text in spark_context.wholeTextFiles(folder(sql_path) + "*.sql").collect():
        name = path.rsplit("/", 1)[-1]
        match = SQL_FILE.match(name)
        if not match:
            raise ValueError("transform file %s is not named NN_<view>.sql" % name)
        files.append((name, match.group(1), text))
    if not files:
        raise ValueError("no transform SQL under %s" % sql_path)
    return [(view, text) for _, view, text in sorted(files)]


def render(text, day):
    # Only {{date}} belongs to a transform file; anything left over would reach Spark as a literal.
    rendered = text.replace("{{date}}", day)
    if "{{" in rendered:
        raise ValueError("unfilled placeholder in transform SQL: %s" % rendered[rendered.index("{{"):][:40])
    return rendered


def main(argv):
    args = getResolvedOptions(argv, ARGUMENTS)
    day = report_date(args["date"])
    if day is None:
        # Refused before any read or write: a wrong day would overwrite some other partition.
        raise ValueError("--date %r is not a YYYY-MM-DD calendar day" % args["date"])

    spark_context = SparkContext.getOrCreate()
    glue_context = GlueContext(spark_context)
    spark = glue_context.spark_session
    # event_time is UTC; the day of a timestamp must not depend on the cluster's zone.
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    # INT96, Spark's default, is deprecated; micros read the same in Redshift, Athena and DuckDB.
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    job = Job(glue_context)
    job.init(args["JOB_NAME"], args)

    # A plain Spark read (no transformation_ctx), so bookmarks never skip files: a replay of a day
    # must read all of it. PERMISSIVE keeps a line that is not JSON as a row of NULLs, which the SQL
    # rejects, so raw = curated + rejected stays exact.
    schema = StructType([StructField(c, StringType(), True) for c in RAW_COLUMNS])
    raw = spark.read.schema(schema).option("mode", "PERMISSIVE").json("%sdt=%s/" % (folder(args["raw_path"]), day))
    raw.withColumn("dt", lit(day)).createOrReplaceTempView("raw_transactions")

    for view, text in sql_files(spark_context, args["sql_path"]):
        spark.sql(render(text, day)).createOrReplaceTempView(view)

    for view, path_argument in OUTPUTS:
        # Overwrite, never append: a rerun of the day replaces its partition, so a replay from raw
        # cannot double anything downstream.
        spark.table(view).write.mode("overwrite").parquet("%sdt=%s/" % (folder(args[path_argument]), day))

    job.commit()


if __name__ == "__main__":
    main(sys.argv)
