import { expect } from "chai";
import { anyCaseSuffixes, caseVariants } from "../../components/filter-policies";

describe("filter policies", () => {
    it("spells a suffix in every letter case", () => {
        expect(caseVariants(".gif").sort()).to.deep.equal([".GIF", ".GIf", ".GiF", ".Gif", ".gIF", ".gIf", ".giF", ".gif"]);
        expect(caseVariants("a1-")).to.deep.equal(["a1-", "A1-"]);
    });

    it("matches image suffixes in any case within the SNS 150-value limit", () => {
        const conditions = anyCaseSuffixes([".jpg", ".jpeg", ".png", ".gif", ".webp"]);
        expect(conditions).to.have.length(8 + 16 + 8 + 8 + 16);
        expect(conditions).to.deep.include({ suffix: ".JPEG" });
        expect(conditions).to.deep.include({ suffix: ".WebP" });
        expect(conditions).to.not.deep.include({ suffix: ".txt" });
    });

    it("refuses suffixes that would exceed the SNS limit", () => {
        expect(() => anyCaseSuffixes([".parquet", ".jsonl"])).to.throw(/160 spellings exceed the 150 values/);
    });
});
