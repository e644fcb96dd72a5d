"""report_etl.py against stub pyspark/awsglue modules (no Spark here): the calls it makes, in order."""

import importlib
import os
import re
import sys
import types
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
GLUE = os.path.dirname(HERE)
REPO = os.path.dirname(GLUE)


class Recorder:
    """What the script asked of Glue and Spark, in order, and what the stubs answer."""

    def __init__(self):
        self.events = []
        self.args = {}
        self.sql_files = []

    def add(self, *event):
        self.events.append(event)

    def kinds(self):
        return [e[0] for e in self.events]


rec = Recorder()


class FakeWriter:
    def __init__(self, source):
        self.source = source
        self.write_mode = None

    def mode(self, m):
        self.write_mode = m
        return self

    def parquet(self, path):
        rec.add("write", self.source, self.write_mode, path)


class FakeFrame:
    def __init__(self, source):
        self.source = source

    def withColumn(self, name, value):
        rec.add("withColumn", name, value)
        return self

    def createOrReplaceTempView(self, name):
        rec.add("view", name, self.source)

    @property
    def write(self):
        return FakeWriter(self.source)


class FakeReader:
    def __init__(self):
        self.options = {}
        self.fields = None

    def schema(self, s):
        self.fields = [(f.name, type(f.dataType).__name__) for f in s.fields]
        return self

    def option(self, k, v):
        self.options[k] = v
        return self

    def json(self, path):
        rec.add("read.json", path, self.fields, dict(self.options))
        return FakeFrame("raw")


class FakeConf:
    def set(self, k, v):
        rec.add("conf", k, v)


class FakeSpark:
    conf = FakeConf()

    @property
    def read(self):
        return FakeReader()

    def sql(self, text):
        rec.add("sql", text)
        return FakeFrame(text)

    def table(self, name):
        return FakeFrame("table:" + name)


class FakeRdd:
    def __init__(self, items):
        self.items = items

    def collect(self):
        return list(self.items)


class FakeSparkContext:
    @classmethod
    def getOrCreate(cls):
        rec.add("SparkContext")
        return cls()

    def wholeTextFiles(self, pattern):
        rec.add("wholeTextFiles", pattern)
        return FakeRdd(rec.sql_files)


class FakeGlueContext:
    def __init__(self, sc):
        self.spark_session = FakeSpark()


class FakeJob:
    def __init__(self, glue_context):
        pass

    def init(self, name, args):
        rec.add("job.init", name)

    def commit(self):
        rec.add("job.commit")


def get_resolved_options(argv, names):
    rec.add("args", list(names))
    missing = [n for n in names if n not in rec.args]
    if missing:
        raise SystemExit("missing arguments: %s" % missing)
    return {n: rec.args[n] for n in names}


class StructField:
    def __init__(self, name, data_type, nullable=True):
        self.name, self.dataType, self.nullable = name, data_type, nullable


class StructType:
    def __init__(self, fields):
        self.fields = fields


class StringType:
    pass


def install_stubs():
    def module(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        sys.modules[name] = m
        return m

    module("awsglue")
    module("awsglue.utils", getResolvedOptions=get_resolved_options)
    module("awsglue.context", GlueContext=FakeGlueContext)
    module("awsglue.job", Job=FakeJob)
    module("pyspark")
    module("pyspark.context", SparkContext=FakeSparkContext)
    module("pyspark.sql")
    module("pyspark.sql.functions", lit=lambda v: ("lit", v))
    module("pyspark.sql.types", StructType=StructType, StructField=StructField, StringType=StringType)


install_stubs()
sys.path.insert(0, GLUE)
report_etl = importlib.import_module("report_etl")

ARGS = {
    "JOB_NAME": "report-etl",
    "date": "2026-11-20",
    "raw_path": "s3://raw-bucket/raw/",
    "curated_path": "s3://lake-bucket/curated/transactions/",
    "rejects_path": "s3://lake-bucket/curated/rejects",  # no trailing slash: the script adds it
    "sql_path": "s3://lake-bucket/scripts/abc123/sql/",
}


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def real_transform_files():
    folder = os.path.join(GLUE, "sql", "transform")
    return [("s3://lake-bucket/scripts/abc123/sql/" + n, read(os.path.join(folder, n))) for n in sorted(os.listdir(folder)) if n.endswith(".sql")]


class ReportEtlTest(unittest.TestCase):
    def setUp(self):
        rec.__init__()
        rec.args = dict(ARGS)
        # Deliberately out of order: the script must sort by name.
        rec.sql_files = list(reversed(real_transform_files()))

    def run_job(self):
        report_etl.main(["report_etl.py"])

    def test_reads_the_contract_arguments_plus_job_name(self):
        self.run_job()
        self.assertEqual(rec.events[0], ("args", ["JOB_NAME", "date", "raw_path", "curated_path", "rejects_path", "sql_path"]))
        contract = read(os.path.join(REPO, "functions", "shared", "contract.ts"))
        block = re.search(r"export const GLUE_JOB_ARGUMENTS = \{(.*?)\} as const", contract, re.S).group(1)
        self.assertEqual(sorted(re.findall(r'"--([a-z_]+)"', block)), sorted(report_etl.ARGUMENTS[1:]))

    def test_reads_the_day_as_all_string_json_and_registers_raw_transactions(self):
        self.run_job()
        reads = [e for e in rec.events if e[0] == "read.json"]
        self.assertEqual(len(reads), 1)
        _, path, fields, options = reads[0]
        self.assertEqual(path, "s3://raw-bucket/raw/dt=2026-11-20/")
        contract = read(os.path.join(REPO, "functions", "shared", "contract.ts"))
        columns = re.findall(r'"([a-z_]+)"', re.search(r"RAW_TRANSACTION_COLUMNS = \[(.*?)\]", contract).group(1))
        self.assertEqual(fields, [(c, "StringType") for c in columns])
        self.assertEqual(options, {"mode": "PERMISSIVE"})
        self.assertIn(("withColumn", "dt", ("lit", "2026-11-20")), rec.events)
        self.assertIn(("view", "raw_transactions", "raw"), rec.events)

    def test_runs_the_sql_files_in_name_order_with_the_date_filled(self):
        self.run_job()
        self.assertIn(("wholeTextFiles", "s3://lake-bucket/scripts/abc123/sql/*.sql"), rec.events)
        views = [e[1] for e in rec.events if e[0] == "view" and e[1] != "raw_transactions"]
        self.assertEqual(views, ["parsed", "deduped", "curated_transactions", "rejected_transactions"])
        texts = [e[1] for e in rec.events if e[0] == "sql"]
        expected = [t.replace("{{date}}", "2026-11-20") for _, t in real_transform_files()]
        self.assertEqual(texts, expected)
        self.assertTrue(all("{{" not in t for t in texts))
        self.assertIn("'2026-11-20'", texts[-1])

    def test_writes_both_outputs_with_overwrite_to_the_day_then_commits(self):
        self.run_job()
        writes = [e for e in rec.events if e[0] == "write"]
        self.assertEqual(writes, [
            ("write", "table:curated_transactions", "overwrite", "s3://lake-bucket/curated/transactions/dt=2026-11-20/"),
            ("write", "table:rejected_transactions", "overwrite", "s3://lake-bucket/curated/rejects/dt=2026-11-20/"),
        ])
        kinds = rec.kinds()
        self.assertLess(kinds.index("job.init"), kinds.index("read.json"))
        self.assertEqual(kinds[-1], "job.commit")
        self.assertLess(max(i for i, k in enumerate(kinds) if k == "write"), kinds.index("job.commit"))

    def test_pins_utc_and_micro_timestamps(self):
        self.run_job()
        self.assertIn(("conf", "spark.sql.session.timeZone", "UTC"), rec.events)
        self.assertIn(("conf", "spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS"), rec.events)

    def test_refuses_a_bad_date_before_any_read(self):
        for bad in ["2026-02-30", "2026-1-01", "20261120", "2026-11-20T00:00:00Z", "", "2026-11-20/../x"]:
            rec.__init__()
            rec.args = dict(ARGS, date=bad)
            rec.sql_files = real_transform_files()
            with self.assertRaises(ValueError, msg=bad):
                self.run_job()
            self.assertEqual(rec.kinds(), ["args"], bad)

    def test_accepts_a_leap_day(self):
        rec.args["date"] = "2028-02-29"
        self.run_job()
        self.assertIn("s3://raw-bucket/raw/dt=2028-02-29/", [e[1] for e in rec.events if e[0] == "read.json"])

    def test_refuses_a_misnamed_sql_file_and_a_leftover_placeholder_before_writing(self):
        rec.sql_files = [("s3://x/sql/parsed.sql", "SELECT 1")]
        with self.assertRaises(ValueError):
            self.run_job()
        rec.__init__()
        rec.args = dict(ARGS)
        rec.sql_files = [("s3://x/sql/01_curated_transactions.sql", "SELECT '{{curated_location}}'")]
        with self.assertRaises(ValueError):
            self.run_job()
        self.assertNotIn("write", rec.kinds())

    def test_missing_argument_stops_the_job(self):
        del rec.args["sql_path"]
        with self.assertRaises(SystemExit):
            self.run_job()
        self.assertEqual(rec.kinds(), ["args"])


if __name__ == "__main__":
    unittest.main()
