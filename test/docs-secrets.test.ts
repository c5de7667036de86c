/**
 * No documented command puts a secret on a command line, where it would land in
 * shell history and `ps`: every `pulumi config set` of a secret key, in the README
 * and docs/, the example stack file, the workflows, the scripts and every message the code can
 * print, gives no value, so pulumi reads it from stdin (the prompt, or a pipe).
 */
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";

const REPO = path.resolve(__dirname, "..");
const SECRET_KEYS = ["forgeToken", "computeToken"];

/** Files that document or print commands: docs, examples, workflows, scripts, and every source that holds error texts. */
function files(): string[] {
    const fixed = ["README.md", "Pulumi.dev.yaml", "Pulumi.yaml", ".github/workflows/pulumi.yml", ".forgejo/workflows/pulumi.yml", ".ci/run"];
    const dirs = ["docs", "providers", "providers/forge", "providers/compute", "components", "components/scripts", "scripts", "scripts/lib", "users"];
    const found = dirs.flatMap((d) => fs.readdirSync(path.join(REPO, d)).filter((f) => /\.(ts|sh|md|ya?ml)$/.test(f)).map((f) => path.join(d, f)));
    return [...fixed, "index.ts", ...found].filter((f) => fs.existsSync(path.join(REPO, f)));
}

/**
 * Every `pulumi config set` in `text` that sets a secret key with a value on the
 * command line (or sets it without --secret), as `line: command`.
 */
export function secretsOnCommandLine(text: string): string[] {
    const bad: string[] = [];
    const lines = text.split("\n");
    lines.forEach((line, i) => {
        for (const m of line.matchAll(/pulumi config set\b([^\n`|;&)"]*)/g)) {
            const tokens = m[1].trim().split(/\s+/).filter((t) => t !== "");
            const words: string[] = [];
            let secret = false;
            for (let j = 0; j < tokens.length; j++) {
                const t = tokens[j];
                if (t.startsWith("#") || t.startsWith("<") || t.startsWith(">")) break; // a comment or a redirection: stdin
                if (t === "--secret") secret = true;
                else if (t === "--stack" || t === "-s" || t === "--config-file") j++;
                else if (!t.startsWith("-")) words.push(t);
            }
            const key = words[0]?.replace(/^[\w-]+:/, "");
            if (key !== undefined && SECRET_KEYS.includes(key) && (words.length > 1 || !secret)) bad.push(`${i + 1}: ${m[0].trim()}`);
        }
    });
    return bad;
}

describe("no secret on a command line", () => {
    it("the detector flags a value after the key, a placeholder, and a secret key set without --secret; it lets stdin forms pass", () => {
        expect(secretsOnCommandLine("pulumi config set --secret forgeToken abc123")).toHaveLength(1);
        expect(secretsOnCommandLine("#   pulumi config set --secret forgeToken <admin token>")).toHaveLength(0); // `<` reads as a redirection…
        expect(secretsOnCommandLine("`pulumi config set --secret forgeToken …`")).toHaveLength(1);
        expect(secretsOnCommandLine("pulumi config set computeToken")).toHaveLength(1);
        expect(secretsOnCommandLine("pulumi config set --secret hero-os-grid-deployer:forgeToken tok --stack dev")).toHaveLength(1);
        expect(secretsOnCommandLine("printf '%s' \"$T\" | pulumi config set --secret forgeToken")).toHaveLength(0);
        expect(secretsOnCommandLine("pulumi config set --secret forgeToken --stack dev   # reads stdin")).toHaveLength(0);
        expect(secretsOnCommandLine("pulumi config set --secret computeToken < token.txt")).toHaveLength(0);
        expect(secretsOnCommandLine("pulumi config set usersFile users/cohort-b.yaml")).toHaveLength(0);
    });

    it("…so placeholders in angle brackets are refused separately: no `<token>`-style value after a secret key", () => {
        for (const f of files()) {
            const text = fs.readFileSync(path.join(REPO, f), "utf8");
            for (const key of SECRET_KEYS) {
                expect(text, f).not.toMatch(new RegExp(`config set [^\\n]*${key} <[a-z][a-z ]*>`));
            }
        }
    });

    it("in the README, docs/, Pulumi.dev.yaml, the workflows, the scripts and every error text", () => {
        const checked = files();
        expect(checked).toEqual(expect.arrayContaining(["README.md", "docs/config.md", "Pulumi.dev.yaml", "providers/forge/client.ts", "scripts/deploy.sh"]));
        const bad = checked.flatMap((f) => secretsOnCommandLine(fs.readFileSync(path.join(REPO, f), "utf8")).map((b) => `${f}:${b}`));
        expect(bad).toEqual([]);
    });

    it("the stack config docs and the example stack file say the value comes from stdin", () => {
        expect(fs.readFileSync(path.join(REPO, "Pulumi.dev.yaml"), "utf8")).toMatch(/stdin/);
        expect(fs.readFileSync(path.join(REPO, "docs", "config.md"), "utf8")).toMatch(/pulumi config set --secret forgeToken`, the value typed at the prompt or piped in/);
    });
});
