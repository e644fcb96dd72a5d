import { expect } from "chai";
import {
    TemplateCompileError,
    TemplateRenderError,
    base64Decode,
    base64Encode,
    compileTemplate,
    escapeJavaScript,
    parseJsonPath,
    selectJsonPath,
    toText,
    urlEncode,
} from "../../../local/runtime/vtl";
import { MESSAGE_ID_TEMPLATE, SEND_MESSAGE_TEMPLATE } from "../../../components/api/api-to-queue";

const OWNER = 'aws:apigateway/integration:Integration "orders" requestTemplates["application/json"]';
const render = (text: string, input: Parameters<ReturnType<typeof compileTemplate>>[0]) => compileTemplate(text, OWNER)(input);

describe("local/runtime/vtl", () => {
    describe("compileTemplate", () => {
        it("renders text and $context variables, an absent one as empty", () => {
            const context = { requestId: "r-1", stage: "v1", identity: { sourceIp: "127.0.0.1" }, error: { validationErrorString: "[x]" } };
            const out = render('{"id": "$context.requestId", "ip": "$context.identity.sourceIp", "e": "$context.error.validationErrorString", "none": "$context.error.message", "q": "$!context.nope.deeper"} $context.stage.', {
                body: "",
                context,
            });
            expect(out).to.equal('{"id": "r-1", "ip": "127.0.0.1", "e": "[x]", "none": "", "q": ""} v1.');
        });

        it("gives $input.body as the raw payload, and {} when there is none", () => {
            expect(render("[$input.body]", { body: '{ "a" : 1 }' })).to.equal('[{ "a" : 1 }]');
            expect(render("[$input.body]", { body: "" })).to.equal("[{}]");
        });

        it("gives $input.json as the selected value re-serialized: compact, strings quoted, nothing selected as \"\"", () => {
            const body = '{ "a": { "b": [ 1, { "c": "x" } ] }, "s": "it\'s", "n": 2.5 }';
            expect(render("$input.json('$')", { body })).to.equal('{"a":{"b":[1,{"c":"x"}]},"s":"it\'s","n":2.5}');
            expect(render("$input.json('$.a.b[1]')", { body })).to.equal('{"c":"x"}');
            expect(render("$input.json('$.s')", { body })).to.equal('"it\'s"');
            expect(render("$input.json('$.n')", { body })).to.equal("2.5");
            expect(render("$input.json('$.a.missing')", { body })).to.equal('""');
        });

        it("gives $input.path as the value itself: strings bare, objects as Java map text, arrays as JSON, nothing as empty", () => {
            const body = '{"a": {"b": [1, {"c": "x"}], "d": "s"}, "s": "plain", "n": 7}';
            expect(render("$input.path('$.s')", { body })).to.equal("plain");
            expect(render("$input.path('$.n')", { body })).to.equal("7");
            expect(render("$input.path('$.a')", { body })).to.equal('{b=[1,{"c":"x"}], d=s}');
            expect(render("$input.path('$.a.b')", { body })).to.equal('[1,{"c":"x"}]');
            expect(render("$input.path(\"$['a']['d']\")", { body })).to.equal("s");
            expect(render("[$input.path('$.nope')]", { body })).to.equal("[]");
        });

        it("reads the plan's response template: the message id from SQS's JSON answer", () => {
            const sqs = JSON.stringify({ SendMessageResponse: { SendMessageResult: { MessageId: "m-42", MD5OfMessageBody: "x" }, ResponseMetadata: { RequestId: "r" } } });
            expect(JSON.parse(render(MESSAGE_ID_TEMPLATE, { body: sqs }))).to.deep.equal({ messageId: "m-42" });
        });

        it("searches $input.params in the path, then the query string, then the headers (case-insensitively)", () => {
            const params = { path: { id: "from-path" }, querystring: { id: "from-query", q: "from-query" }, header: { "x-trace": "from-header", q: "from-header" } };
            expect(render("$input.params('id') $input.params('q') $input.params('X-Trace') [$input.params('none')]", { body: "", params })).to.equal(
                "from-path from-query from-header []",
            );
        });

        it("encodes the plan's SendMessage template so that the form decodes back to the re-serialized body", () => {
            const message = { message: "a & b = c + d % e\n\"quoted\" é 😀", attributes: { "k.1": "v/2" } };
            const form = render(SEND_MESSAGE_TEMPLATE, { body: JSON.stringify(message, null, 2) });
            const params = new URLSearchParams(form);
            expect([...params.keys()]).to.deep.equal(["Action", "MessageBody"]);
            expect(params.get("Action")).to.equal("SendMessage");
            expect(params.get("MessageBody")).to.equal(JSON.stringify(message));
        });

        it("nests $util functions over $input and $context", () => {
            const body = '{"text": "hé\'llo"}';
            expect(render("$util.base64Encode($input.path('$.text'))", { body })).to.equal(Buffer.from("hé'llo").toString("base64"));
            expect(render("$util.base64Decode($util.base64Encode($input.body))", { body })).to.equal(body);
            expect(render("$util.escapeJavaScript($input.json('$.text'))", { body })).to.equal("\\\"h\\u00E9\\'llo\\\"");
            expect(render("$util.urlEncode($context.stage)", { body, context: { stage: "a b" } })).to.equal("a+b");
            expect(render("$util.parseJson($input.path('$.inner'))", { body: '{"inner": "{\\"k\\": [1, 2]}"}' })).to.equal("{k=[1,2]}");
        });

        it("leaves a $ or # that starts no reference or directive as text", () => {
            expect(render("costs $5, '$', #fff, a#b, $ alone", { body: "" })).to.equal("costs $5, '$', #fff, a#b, $ alone");
        });

        it("fails to render, naming the template, when it reads a payload that is not JSON as JSON", () => {
            const template = compileTemplate("$input.json('$')", OWNER);
            expect(() => template({ body: "not json" })).to.throw(TemplateRenderError, OWNER).and.property("message").that.contains("$input.json('$')");
            expect(() => render("$util.parseJson($input.body)", { body: "{" })).to.throw(TemplateRenderError, "$util.parseJson");
        });

        const outside: [string, string][] = [
            ['#if($input.path(\'$.a\'))yes#end', "#if"],
            ["#set($x = 1)$x", "#set"],
            ["#foreach($k in $input.path('$').keySet())$k#end", "#foreach"],
            ["#{if}(true)x#end", "#{if}"],
            ["text ## a comment", "## (a comment)"],
            ["#* block *#", "#* (a block comment)"],
            ["$util.toJson($input.body)", "$util.toJson($input.body)"],
            ["$util.urlDecode($input.body)", "$util.urlDecode($input.body)"],
            ["$stageVariables.name", "$stageVariables"],
            ["$method.request", "$method"],
            ["$input.params()", "$input.params()"],
            ["$input.json($context.path)", "$input.json($context.path)"],
            ["${context.requestId}", "${...}"],
            ["$input.json('$..a')", "$input.json('$..a')"],
            ["$input.json('$.a[*]')", "$input.json('$.a[*]')"],
            ["$input.path('$').a", "$input.path('$').a"],
            ["$context.requestId.length()", "$context.requestId.length()"],
            ["$util.base64Encode('a', 'b')", "$util.base64Encode('a', 'b') (expected one argument)"],
            ['\\$context.requestId', "escaped \\$"],
            ['$util.urlEncode("$context.stage")', '"$context.stage" (an interpolated string)'],
        ];
        for (const [template, construct] of outside) {
            it(`refuses ${JSON.stringify(template)} at compile time, in one line naming ${construct} and the owner`, () => {
                let error: unknown;
                try {
                    compileTemplate(`{"a": 1}\n${template}`, OWNER);
                } catch (e) {
                    error = e;
                }
                expect(error).to.be.instanceOf(TemplateCompileError);
                const message = (error as Error).message;
                expect(message.startsWith(`${OWNER}: mapping template uses ${construct}`), message).to.equal(true);
                expect(message).to.contain("at line 2,");
                expect(message).not.to.contain("\n");
            });
        }
    });

    describe("$util functions", () => {
        it("urlEncode writes application/x-www-form-urlencoded as Java's URLEncoder does", () => {
            expect(urlEncode("aZ09.-*_")).to.equal("aZ09.-*_");
            expect(urlEncode("a b&c=d+e/f~g'h")).to.equal("a+b%26c%3Dd%2Be%2Ff%7Eg%27h");
            expect(urlEncode("é😀")).to.equal("%C3%A9%F0%9F%98%80");
            expect(urlEncode("\n%")).to.equal("%0A%25");
        });

        it("escapeJavaScript escapes quotes (single ones too), backslash, slash, controls and non-ASCII", () => {
            expect(escapeJavaScript(`it's "q" \\ / x`)).to.equal(`it\\'s \\"q\\" \\\\ \\/ x`);
            expect(escapeJavaScript("a\nb\tc\rd\u0001")).to.equal("a\\nb\\tc\\rd\\u0001");
            expect(escapeJavaScript("é€😀")).to.equal("\\u00E9\\u20AC\\uD83D\\uDE00");
        });

        it("base64Encode and base64Decode go through UTF-8", () => {
            expect(base64Encode("héllo")).to.equal("aMOpbGxv");
            expect(base64Decode("aMOpbGxv")).to.equal("héllo");
        });
    });

    describe("JSONPath subset", () => {
        it("parses $, .name, ['name'] and [index] steps", () => {
            expect(parseJsonPath("$")).to.deep.equal([]);
            expect(parseJsonPath("$.a.b_c[2]['d e'][\"f\"]")).to.deep.equal(["a", "b_c", 2, "d e", "f"]);
        });

        it("refuses wildcards, recursive descent, filters and slices", () => {
            for (const path of ["a", "$..a", "$.*", "$[*]", "$[?(@.a)]", "$[0:2]", "$[-1]", "$.a."]) {
                expect(() => parseJsonPath(path), path).to.throw(path);
            }
        });

        it("selects a value, or undefined when a step finds nothing", () => {
            const doc = { a: [{ b: 0 }], s: "x" };
            expect(selectJsonPath(doc, ["a", 0, "b"])).to.equal(0);
            expect(selectJsonPath(doc, ["a", 1, "b"])).to.equal(undefined);
            expect(selectJsonPath(doc, ["s", "length"])).to.equal(undefined);
            expect(selectJsonPath(doc, ["a", "0"])).to.equal(undefined);
            expect(selectJsonPath({ o: { 0: "zero" } }, ["o", 0]), "an index on an object").to.equal(undefined);
            expect(selectJsonPath(doc, ["s", 0]), "an index on a string").to.equal(undefined);
        });
    });

    describe("toText", () => {
        it("prints values as Java's toString does in a template", () => {
            expect(toText({ a: 1, b: { c: null, d: true }, e: ["x", { f: 1 }] })).to.equal('{a=1, b={c=null, d=true}, e=["x",{"f":1}]}');
            expect(toText("s")).to.equal("s");
            expect(toText(3)).to.equal("3");
        });
    });
});
