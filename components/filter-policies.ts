import { InvalidArgument } from "./validation";
// Pure builders for SNS subscription filter policies.

/** SNS compares strings case-sensitively and caps a policy at 150 value combinations (AWS quota). */
export const SNS_FILTER_MAX_COMBINATIONS = 150;

/** Every upper/lower-case spelling of `text` (".Jpg", ".JPG", ...). */
export function caseVariants(text: string): string[] {
    let variants = [""];
    for (const ch of text) {
        const forms = ch.toLowerCase() === ch.toUpperCase() ? [ch] : [ch.toLowerCase(), ch.toUpperCase()];
        variants = variants.flatMap((v) => forms.map((f) => v + f));
    }
    return variants;
}

/**
 * Suffix conditions matching any of `suffixes` in any letter case. SNS has `suffix` and
 * `equals-ignore-case` but no case-insensitive suffix, so each spelling is listed.
 */
export function anyCaseSuffixes(suffixes: string[]): { suffix: string }[] {
    const all = [...new Set(suffixes.flatMap(caseVariants))].sort();
    if (all.length > SNS_FILTER_MAX_COMBINATIONS) {
        throw new InvalidArgument(`anyCaseSuffixes: ${all.length} spellings exceed the ${SNS_FILTER_MAX_COMBINATIONS} values an SNS filter policy may combine; use fewer or shorter suffixes`);
    }
    return all.map((suffix) => ({ suffix }));
}
