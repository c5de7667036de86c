/**
 * The README and docs/ hold together: every relative link names a file that
 * exists, every `#anchor` (in the same file or `file.md#anchor`) names a heading
 * there by GitHub's slug rules, and every `npm run` script in package.json is
 * mentioned in the README, so an admin finds each command from the first page.
 */
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";

const REPO = path.resolve(__dirname, "..");

/** Lines outside fenced code blocks (``` or ~~~), with their 1-based numbers. */
function proseLines(md: string): { n: number; text: string }[] {
    const out: { n: number; text: string }[] = [];
    let fence: string | undefined;
    md.split("\n").forEach((line, i) => {
        const m = /^\s{0,3}(`{3,}|~{3,})/.exec(line);
        if (m) {
            if (fence === undefined) fence = m[1][0].repeat(m[1].length);
            else if (m[1].startsWith(fence)) fence = undefined;
            return;
        }
        if (fence === undefined) out.push({ n: i + 1, text: line });
    });
    return out;
}

/** The line with every inline code span replaced by `code`, so a `[x](y)` inside backticks is no link. */
const withoutCode = (line: string) => line.replace(/(`+)(?:(?!\1).)+?\1/g, "code");

/** GitHub's anchor for a heading's text: lowercase, markup and punctuation (but `-` and `_`) dropped, spaces to `-`. */
export function slug(heading: string): string {
    return heading
        .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1") // a link keeps its text
        .replace(/`/g, "")
        .toLowerCase()
        .replace(/[^\p{L}\p{M}\p{N}_\- ]/gu, "")
        .replace(/ /g, "-");
}

/** Every anchor the file's headings make, duplicates numbered `-1`, `-2` as GitHub does. */
export function anchors(md: string): Set<string> {
    const seen = new Map<string, number>();
    const out = new Set<string>();
    for (const { text } of proseLines(md)) {
        const m = /^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(text);
        if (!m) continue;
        const base = slug(m[1]);
        const count = seen.get(base) ?? 0;
        seen.set(base, count + 1);
        out.add(count === 0 ? base : `${base}-${count}`);
    }
    return out;
}

/** Every inline link target in prose (not in code), with its line. */
export function links(md: string): { line: number; target: string }[] {
    const out: { line: number; target: string }[] = [];
    for (const { n, text } of proseLines(md)) {
        for (const m of withoutCode(text).matchAll(/!?\[(?:[^[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
            out.push({ line: n, target: m[1] });
        }
    }
    return out;
}

/**
 * Every relative link among `docs` (path → text, paths relative to the
 * repository) that does not resolve, as `file:line: target: why`. `exists`
 * answers for files outside `docs`.
 */
export function brokenLinks(docs: Map<string, string>, exists: (file: string) => boolean): string[] {
    const bad: string[] = [];
    const anchorCache = new Map<string, Set<string>>();
    const anchorsOf = (f: string) => {
        if (!anchorCache.has(f)) anchorCache.set(f, anchors(docs.get(f) ?? ""));
        return anchorCache.get(f)!;
    };
    for (const [file, text] of docs) {
        for (const { line, target } of links(text)) {
            if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:, …
            const hash = target.indexOf("#");
            const rel = hash < 0 ? target : target.slice(0, hash);
            const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
            const to = rel === "" ? file : path.posix.normalize(path.posix.join(path.posix.dirname(file), decodeURIComponent(rel)));
            const where = `${file}:${line}: ${target}`;
            if (to.startsWith("../") || path.posix.isAbsolute(to)) {
                bad.push(`${where}: points outside the repository`);
                continue;
            }
            if (!docs.has(to) && !exists(to)) {
                bad.push(`${where}: no file ${to}`);
                continue;
            }
            if (anchor === undefined) continue;
            if (!to.endsWith(".md")) continue; // anchors into code files (#L10) are GitHub's
            if (!docs.has(to)) {
                bad.push(`${where}: ${to} is not among the checked documents`);
                continue;
            }
            if (!anchorsOf(to).has(anchor)) bad.push(`${where}: no heading in ${to} makes #${anchor}`);
        }
    }
    return bad;
}

/** The scripts an admin runs as `npm run <name>`: all but npm's lifecycle hooks and `test` (run as `npm test`). */
export function runScripts(scripts: Record<string, string>): string[] {
    const lifecycle = new Set(["test", "start", "stop", "restart", "install", "prepare", "prepublish", "prepublishOnly", "prepack", "postpack", "dependencies"]);
    return Object.keys(scripts).filter((name) => {
        if (lifecycle.has(name)) return false;
        const hooked = /^(?:pre|post)(.+)$/.exec(name)?.[1];
        return !(hooked !== undefined && (hooked in scripts || lifecycle.has(hooked)));
    });
}

/** The scripts of `names` that `readme` never mentions as `npm run <name>`. */
export function unmentionedScripts(names: string[], readme: string): string[] {
    return names.filter((name) => !new RegExp(`npm run (?:-s )?${name.replace(/[-.]/g, "\\$&")}(?![\\w-])`).test(readme));
}

/** README.md and every docs/*.md, by path relative to the repository. */
function documents(): Map<string, string> {
    const docs = new Map<string, string>([["README.md", fs.readFileSync(path.join(REPO, "README.md"), "utf8")]]);
    const dir = path.join(REPO, "docs");
    if (fs.existsSync(dir)) {
        for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".md")).sort()) docs.set(`docs/${f}`, fs.readFileSync(path.join(dir, f), "utf8"));
    }
    return docs;
}

describe("the checker itself", () => {
    it("makes GitHub's anchors: punctuation and code marks dropped, duplicates numbered", () => {
        expect(slug("Operators' view: `npm run status`")).toBe("operators-view-npm-run-status");
        expect(slug("Drift and `pulumi refresh`")).toBe("drift-and-pulumi-refresh");
        expect(slug("What a pull request's preview looks like")).toBe("what-a-pull-requests-preview-looks-like");
        expect(slug("Hero Compute: VMs and web gateways")).toBe("hero-compute-vms-and-web-gateways");
        expect(slug("Figures (`npm run bench`)")).toBe("figures-npm-run-bench");
        expect([...anchors("# A\n## Notes\n```sh\n# not a heading\n```\n### Notes\n## Notes ##\n")]).toEqual(["a", "notes", "notes-1", "notes-2"]);
    });

    it("regression: reports a broken file, a broken anchor in another file and in its own, and lets good ones and code pass", () => {
        const docs = new Map([
            ["README.md", "# Top\n\nSee [config](docs/config.md#stack-config), [gone](docs/gone.md), [typo](docs/config.md#stack-confg),\n[here](#top), [nowhere](#bottom), [site](https://example.org/x#y), `[code](not/a/link.md)`, [src](index.ts).\n```\n[fenced](no/such.md)\n```\n"],
            ["docs/config.md", "# Config\n\n## Stack config\n\nBack to [the README](../README.md#top) and [out](../../elsewhere.md).\n"],
        ]);
        const bad = brokenLinks(docs, (f) => f === "index.ts");
        expect(bad).toEqual([
            "README.md:3: docs/gone.md: no file docs/gone.md",
            "README.md:3: docs/config.md#stack-confg: no heading in docs/config.md makes #stack-confg",
            "README.md:4: #bottom: no heading in README.md makes #bottom",
            "docs/config.md:5: ../../elsewhere.md: points outside the repository",
        ]);
    });

    it("knows which scripts are run by name, and finds one the README does not mention", () => {
        const scripts = { pretest: "x", test: "x", postinstall: "x", prepare: "x", deploy: "x", "daily-issue": "x", predeploy: "x", bench: "x" };
        expect(runScripts(scripts)).toEqual(["deploy", "daily-issue", "bench"]);
        expect(unmentionedScripts(["deploy", "daily-issue", "bench"], "run `npm run deploy`, then `npm run daily-issue -- x`; `npm run benchmark`")).toEqual(["bench"]);
    });
});

describe("README.md and docs/", () => {
    const docs = documents();

    it("every relative link and anchor resolves", () => {
        expect(docs.size).toBeGreaterThan(1);
        expect(brokenLinks(docs, (f) => fs.existsSync(path.join(REPO, f)))).toEqual([]);
    });

    it("every npm run script in package.json is mentioned in the README as `npm run <name>`", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as { scripts: Record<string, string> };
        const names = runScripts(pkg.scripts);
        expect(names).toEqual(expect.arrayContaining(["validate", "deploy", "preflight", "handout", "teardown", "status", "audit"]));
        expect(unmentionedScripts(names, docs.get("README.md")!)).toEqual([]);
    });
});
