import { createHash } from "crypto";
import { InvalidArgument } from "./validation";

// Physical names AWS accepts, checked at construction. Pulumi names most resources itself: the
// logical name, a dash and 7 random hex characters (lower-cased for S3 buckets); a name that ends
// up too long, or with characters the service refuses, would fail only at `pulumi up`, halfway
// through. Components check each child's name here first and refuse it in one line.

/** What one AWS resource type accepts as a physical name. */
export interface NameRule {
    /** The service's word for the name, as an error shows it ("SQS queue name"). */
    what: string;
    /** The input holding the physical name. */
    field: "name" | "bucket";
    minLength: number;
    maxLength: number;
    /** The characters the service accepts (anchored). */
    pattern: RegExp;
    /** In words, for the error. */
    characters: string;
    /** Pulumi lower-cases the generated name (S3 buckets). */
    lowercase?: boolean;
}

/** The characters Pulumi adds to a logical name: "-" and 7 hex characters. */
export const AUTONAME_SUFFIX_LENGTH = 8;
/** The characters Terraform adds to a `namePrefix` (a timestamp and a counter). */
export const NAME_PREFIX_SUFFIX_LENGTH = 26;

const LETTERS_DIGITS_DASH_UNDERSCORE = { pattern: /^[A-Za-z0-9_-]+$/, characters: "letters, digits, - and _" };
const IAM_NAME_CHARACTERS = { pattern: /^[\w+=,.@-]+$/, characters: "letters, digits and + = , . @ _ -" };

/** AWS's limits (from each service's API reference) for the types these components name. */
export const NAME_RULES: Readonly<Record<string, NameRule>> = {
    "aws:sqs/queue:Queue": { what: "SQS queue name", field: "name", minLength: 1, maxLength: 80, ...LETTERS_DIGITS_DASH_UNDERSCORE },
    "aws:sns/topic:Topic": { what: "SNS topic name", field: "name", minLength: 1, maxLength: 256, ...LETTERS_DIGITS_DASH_UNDERSCORE },
    "aws:lambda/function:Function": { what: "Lambda function name", field: "name", minLength: 1, maxLength: 64, ...LETTERS_DIGITS_DASH_UNDERSCORE },
    "aws:iam/role:Role": { what: "IAM role name", field: "name", minLength: 1, maxLength: 64, ...IAM_NAME_CHARACTERS },
    "aws:iam/rolePolicy:RolePolicy": { what: "IAM inline policy name", field: "name", minLength: 1, maxLength: 128, ...IAM_NAME_CHARACTERS },
    "aws:cloudwatch/eventRule:EventRule": { what: "EventBridge rule name", field: "name", minLength: 1, maxLength: 64, pattern: /^[A-Za-z0-9._-]+$/, characters: "letters, digits, . _ and -" },
    "aws:cloudwatch/metricAlarm:MetricAlarm": { what: "CloudWatch alarm name", field: "name", minLength: 1, maxLength: 255, pattern: /^[^\u0000-\u001f]+$/, characters: "printable characters" },
    "aws:cloudwatch/logGroup:LogGroup": { what: "log group name", field: "name", minLength: 1, maxLength: 512, pattern: /^[A-Za-z0-9._\-/#]+$/, characters: "letters, digits and . _ - / #" },
    "aws:dynamodb/table:Table": { what: "DynamoDB table name", field: "name", minLength: 3, maxLength: 255, pattern: /^[A-Za-z0-9_.-]+$/, characters: "letters, digits, _ . and -" },
    "aws:kinesis/stream:Stream": { what: "Kinesis stream name", field: "name", minLength: 1, maxLength: 128, pattern: /^[A-Za-z0-9_.-]+$/, characters: "letters, digits, _ . and -" },
    "aws:s3/bucket:Bucket": { what: "S3 bucket name", field: "bucket", minLength: 3, maxLength: 63, pattern: /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/, characters: "lower-case letters, digits, . and -", lowercase: true },
};

function ruleFor(type: string): NameRule {
    const rule = NAME_RULES[type];
    if (!rule) throw new Error(`naming: no name rule for ${type}; add it to NAME_RULES`);
    return rule;
}

/** Why `name` breaks the rule of `type`, or undefined. */
export function nameProblem(type: string, name: string): string | undefined {
    const rule = ruleFor(type);
    if (name.length > rule.maxLength) return `is ${name.length} characters, above the ${rule.maxLength} ${rule.what}s allow`;
    if (name.length < rule.minLength) return `is ${name.length} characters, below the ${rule.minLength} ${rule.what}s need`;
    if (!rule.pattern.test(name)) return `has characters ${rule.what}s refuse (allowed: ${rule.characters})`;
    return undefined;
}

/**
 * The logical name of a child that Pulumi names itself, checked: with Pulumi's 8 characters
 * added (and lower-cased where Pulumi does), the name must fit `type`'s rule. Throws one line
 * naming the component, the resource and the limit.
 */
export function autoName(component: string, type: string, logicalName: string): string {
    const rule = ruleFor(type);
    const physical = `${rule.lowercase ? logicalName.toLowerCase() : logicalName}-${"0".repeat(AUTONAME_SUFFIX_LENGTH - 1)}`;
    const problem = nameProblem(type, physical);
    if (problem) {
        throw new InvalidArgument(
            `${component}: ${rule.what} "${logicalName}" plus Pulumi's ${AUTONAME_SUFFIX_LENGTH} generated characters ${problem}; use a shorter component name`,
        );
    }
    return logicalName;
}

/** A name prefix Terraform completes with 26 characters (log groups), checked like autoName. */
export function namePrefix(component: string, type: string, prefix: string): string {
    const rule = ruleFor(type);
    const problem = nameProblem(type, `${prefix}${"0".repeat(NAME_PREFIX_SUFFIX_LENGTH)}`);
    if (problem) throw new InvalidArgument(`${component}: ${rule.what} prefix "${prefix}" plus the ${NAME_PREFIX_SUFFIX_LENGTH} generated characters ${problem}; use a shorter component name`);
    return prefix;
}

/** A physical name given explicitly (the seed's EventStream, say), checked; undefined passes (Pulumi names it). */
export function explicitName(component: string, type: string, name: string | undefined, arg: string): string | undefined {
    if (name === undefined) return undefined;
    const problem = nameProblem(type, name);
    if (problem) throw new InvalidArgument(`${component}: ${arg} "${name}" ${problem}`);
    return name;
}

/**
 * The name Pulumi would generate, for the offline engine: the logical name, "-", and 7 hex
 * characters drawn from `seed` (the stack and the resource's URN), so every run repeats them.
 */
export function generatedName(type: string, logicalName: string, seed: string): string {
    const hex = createHash("sha256").update(seed).digest("hex").slice(0, AUTONAME_SUFFIX_LENGTH - 1);
    const name = `${logicalName}-${hex}`;
    return NAME_RULES[type]?.lowercase ? name.toLowerCase() : name;
}
