import { expect } from "chai";
import { checkPrefix, extractKeys, firehoseSettings, objectKey, parseJqQuery, renderPrefix, unescapeDelimiter } from "../../../local/runtime/firehose";
import type { PlannedResource } from "../../../local/plan";

// The Firehose stand-in's pure parts: the JQ subset it runs, the prefix expressions and the object
// names. The stand-in against kinesis-local and s3rver is proven in test/e2e/reporting.spec.ts.

describe("local runtime: Firehose stand-in", () => {
    describe("the JQ subset of MetadataExtractionQuery", () => {
        it("parses the plan's query and extracts the day of event_time", () => {
            const q = parseJqQuery("{dt: .event_time[0:10]}");
            expect(q).to.deep.equal([{ key: "dt", field: "event_time", slice: { from: 0, to: 10 } }]);
            expect(extractKeys(q, '{"event_time":"2026-11-20T10:15:00.123Z","x":1}')).to.deep.equal({ keys: { dt: "2026-11-20" } });
        });

        it("takes several keys, plain fields, open and negative slices, as jq does", () => {
            const q = parseJqQuery('{ a: .source, "b": .event_time[:4], c: .event_time[-3:] }');
            expect(extractKeys(q, '{"source":"pos","event_time":"2026-11-20Z99"}')).to.deep.equal({ keys: { a: "pos", b: "2026", c: "Z99" } });
            expect(extractKeys(parseJqQuery("{n: .n}"), '{"n": 5}')).to.deep.equal({ keys: { n: "5" } });
        });

        it("gives no keys for a record that is not a JSON object, or lacks the field", () => {
            const q = parseJqQuery("{dt: .event_time[0:10]}");
            for (const data of ["not json", '{"event_time": ', "[1,2]", "{}", '{"event_time":null}', '{"event_time":{"a":1}}', '{"event_time":12}']) {
                expect(extractKeys(q, data), data).to.have.property("error").that.is.a("string");
            }
        });

        it("refuses any other query at start, with one line naming it", () => {
            for (const query of [".event_time", "{dt: .a.b}", "{dt: .a | ascii_downcase}", "{dt: .a[0]}", "{dt: .a, dt: .b}", "{}", '{dt: .a[0:"x"]}']) {
                expect(() => parseJqQuery(query), query).to.throw(`MetadataExtractionQuery ${JSON.stringify(query)} is not supported locally`);
            }
        });
    });

    describe("prefixes and object names", () => {
        const at = new Date("2026-11-20T07:08:09.123Z");

        it("fills partition keys, the timestamp (UTC), the error type and a random string", () => {
            expect(renderPrefix("raw/dt=!{partitionKeyFromQuery:dt}/", { keys: { dt: "2026-11-20" }, at })).to.equal("raw/dt=2026-11-20/");
            expect(renderPrefix("raw/_errors/!{firehose:error-output-type}/!{timestamp:yyyy-MM-dd}/", { at, errorType: "partitioning-failed" })).to.equal("raw/_errors/partitioning-failed/2026-11-20/");
            expect(renderPrefix("x/!{timestamp:yyyy/MM/dd/HH}/!{firehose:random-string}/", { at, random: () => "r4nd" })).to.equal("x/2026/11/20/07/r4nd/");
        });

        it("refuses expressions the stand-in does not evaluate, or a key the query lacks", () => {
            expect(() => checkPrefix("p/!{partitionKeyFromQuery:day}/", "prefix", ["dt"], false)).to.throw("names partition key day");
            expect(() => checkPrefix("p/!{partitionKeyFromLambda:dt}/", "prefix", ["dt"], false)).to.throw("namespace partitionKeyFromLambda");
            expect(() => checkPrefix("p/!{timestamp:yyyy-ww}/", "prefix", [], false)).to.throw("timestamp pattern");
            expect(() => checkPrefix("p/!{firehose:error-output-type}/", "prefix", [], false)).to.throw("firehose:error-output-type");
            expect(() => checkPrefix("e/!{partitionKeyFromQuery:dt}/", "errorOutputPrefix", ["dt"], true)).to.throw("error prefix");
            expect(() => checkPrefix("raw/dt=!{partitionKeyFromQuery:dt}/", "prefix", ["dt"], false)).to.not.throw();
        });

        it("names objects <prefix><stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid>.gz", () => {
            expect(objectKey("raw/dt=2026-11-20/", "ingest", at, ".gz", "u-u-i-d")).to.equal("raw/dt=2026-11-20/ingest-1-2026-11-20-07-08-09-u-u-i-d.gz");
            expect(objectKey("p/", "s", at, "")).to.match(/^p\/s-1-2026-11-20-07-08-09-[0-9a-f-]{36}$/);
        });

        it("reads the Delimiter parameter's escapes", () => {
            expect(unescapeDelimiter("\\n")).to.equal("\n");
            expect(unescapeDelimiter("\\t|\\\\")).to.equal("\t|\\");
        });
    });

    describe("the planned settings", () => {
        const stream = (extended: Record<string, unknown>): PlannedResource =>
            ({
                type: "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream",
                name: "f",
                custom: true,
                inputs: {
                    destination: "extended_s3",
                    kinesisSourceConfiguration: { kinesisStreamArn: "arn:aws:kinesis:us-east-1:123456789012:stream/in", roleArn: "arn:aws:iam::123456789012:role/r" },
                    extendedS3Configuration: {
                        bucketArn: "arn:aws:s3:::raw-bucket",
                        roleArn: "arn:aws:iam::123456789012:role/r",
                        compressionFormat: "GZIP",
                        prefix: "raw/dt=!{partitionKeyFromQuery:dt}/",
                        errorOutputPrefix: "raw/_errors/!{firehose:error-output-type}/",
                        dynamicPartitioningConfiguration: { enabled: true },
                        processingConfiguration: {
                            enabled: true,
                            processors: [
                                { type: "MetadataExtraction", parameters: [{ parameterName: "MetadataExtractionQuery", parameterValue: "{dt: .event_time[0:10]}" }, { parameterName: "JsonParsingEngine", parameterValue: "JQ-1.6" }] },
                                { type: "AppendDelimiterToRecord", parameters: [{ parameterName: "Delimiter", parameterValue: "\\n" }] },
                            ],
                        },
                        ...extended,
                    },
                },
                outputs: { arn: "arn:aws:firehose:us-east-1:123456789012:deliverystream/ingest-1a2b3c" },
            }) as unknown as PlannedResource;

        it("reads the buffering hints (AWS's defaults when absent), the bucket and the processors", () => {
            const s = firehoseSettings(stream({ bufferingInterval: 60, bufferingSize: 64 }));
            expect(s).to.include({ name: "ingest-1a2b3c", bucket: "raw-bucket", bufferingIntervalSeconds: 60, bufferingSizeBytes: 64 * 1024 * 1024, compression: "GZIP", delimiter: "\n" });
            expect(firehoseSettings(stream({}))).to.include({ bufferingIntervalSeconds: 300, bufferingSizeBytes: 5 * 1024 * 1024 });
        });

        it("refuses what it would not honour: a Lambda processor, format conversion, an unknown compression", () => {
            expect(() => firehoseSettings(stream({ processingConfiguration: { enabled: true, processors: [{ type: "Lambda", parameters: [] }] } }))).to.throw("processor Lambda is not run");
            expect(() => firehoseSettings(stream({ dataFormatConversionConfiguration: { enabled: true } }))).to.throw("data format conversion");
            expect(() => firehoseSettings(stream({ compressionFormat: "Snappy" }))).to.throw("compressionFormat Snappy");
            expect(() => firehoseSettings(stream({ errorOutputPrefix: "" }))).to.throw("needs an errorOutputPrefix");
        });
    });
});
