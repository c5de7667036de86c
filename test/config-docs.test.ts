/**
 * Every stack config key the code reads is documented: in the Stack config
 * section of docs/config.md, and (except the tuning keys) in the example stack file.
 */
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "..");
const read = (f: string) => fs.readFileSync(path.join(ROOT, f), "utf8");
const TUNING = ["forgeTimeoutMs", "forgeRetryBaseMs", "computeRequestTimeoutSeconds", "computeBackoffSeconds", "computePollSeconds", "computeProgressSeconds"];
/** Keys only the rehearsal sets; documented in docs/config.md, kept out of the example stack file. */
const REHEARSAL_ONLY = ["computeAllowLoopbackBackend", "bootstrapOverrides"];

/** Keys read through the config getters (get, getNumber, require, getSecret) or the providers' get()/num() helpers. */
function keysReadByCode(): string[] {
    const files = ["index.ts", ...["components", "providers"].flatMap((d) => (fs.readdirSync(path.join(ROOT, d), { recursive: true }) as string[]).filter((f) => f.endsWith(".ts")).map((f) => `${d}/${f}`))];
    const keys = new Set<string>();
    for (const f of files) {
        for (const m of read(f).matchAll(/\b(?:get|num|getNumber|getBoolean|require|getSecret)\("([a-z][A-Za-z]+)"/g)) {
            if (m[1] !== "undici") keys.add(m[1]);
        }
    }
    return [...keys].sort();
}

describe("stack config keys", () => {
    const keys = keysReadByCode();

    it("are found in the code (the scan itself works)", () => {
        expect(keys).toEqual(expect.arrayContaining(["usersFile", "forgeUrl", "forgeToken", "computeUrl", "computeToken", "purgeFeedbackHubOnTeardown"]));
    });

    it("are each documented in the Stack config section of docs/config.md", () => {
        const doc = read("docs/config.md");
        const start = doc.indexOf("## Stack config");
        const section = doc.slice(start, doc.indexOf("\n## ", start + 1));
        expect(start).toBeGreaterThanOrEqual(0);
        expect(keys.filter((k) => !section.includes(`\`${k}\``))).toEqual([]);
    });

    it("are each shown in Pulumi.dev.yaml, tuning and rehearsal-only keys apart", () => {
        const stack = read("Pulumi.dev.yaml");
        const missing = keys.filter((k) => !TUNING.includes(k) && !REHEARSAL_ONLY.includes(k) && !stack.includes(`hero-os-grid-deployer:${k}`) && !stack.includes(`set --secret ${k}`));
        expect(missing).toEqual([]);
    });
});
