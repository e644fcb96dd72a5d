/**
 * Object keys as S3 writes them into its event notifications: URL-encoded the way an HTML form
 * is (S3 documents "red flower.jpg" arriving as "red+flower.jpg"). Written here, apart from the
 * product's decoder (functions/shared/object-created.ts), so a spec can build events the way S3
 * does and check that the consumers read them back, rather than reusing the code under test.
 */

// Kept as they are: letters, digits and the characters Java's URLEncoder (the form encoding S3
// follows) leaves alone, plus "/", which S3 keeps so a key still reads as a path.
const KEPT = /[A-Za-z0-9.\-*_/]/;

/** `photos/red flower (1).png` → `photos/red+flower+%281%29.png`; other bytes of the UTF-8 key as %XX. */
export function encodeS3EventKey(key: string): string {
    let out = "";
    for (const ch of key) {
        if (ch === " ") out += "+";
        else if (KEPT.test(ch)) out += ch;
        else for (const byte of Buffer.from(ch, "utf8")) out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
    }
    return out;
}
