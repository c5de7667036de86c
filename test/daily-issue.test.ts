/**
 * The daily run's issue (scripts/daily-issue.ts): the pure report and decision,
 * then the whole command against a local fake of the issue routes GitHub and
 * Forgejo both serve (list, create, edit, comment), on a loopback port.
 */
import * as fs from "fs";
import * as http from "http";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { dailyIssue } from "../scripts/daily-issue";
import { dailyReport, decide, issueMarker, type DailyInputs } from "../scripts/lib/daily-report";

const TOKEN = "ghs_daily0123456789abcdefTOKEN";
const GREEN = { validate: "success", up: "success", status: "success", audit: "success" } as const;
const STATUS = { environments: [{ username: "alice", healthy: true, problems: [] }, { username: "bob", healthy: false, problems: ["vm stopped", "gateway 502"] }] };
const AUDIT = { orphans: [{ kind: "vm", name: "devzed", id: "42", why: "carries a deployer key of this stack; no state record" }], gone: [], lookAlikes: [] };

describe("the daily report (pure)", () => {
    const base: DailyInputs = { stack: "dev", date: "2026-12-07", outcomes: { ...GREEN }, status: STATUS, audit: AUDIT, expiringSoon: [{ username: "carol", expires: "2026-12-10" }] };

    it("names the failed steps, the failing environments, the orphans and who expires within 7 days", () => {
        const r = dailyReport({ ...base, outcomes: { ...GREEN, up: "failure", status: "failure" } });
        expect(r.failed).toBe(true);
        expect(r.title).toBe("Daily run failed: stack dev");
        expect(r.body.split("\n")[0]).toBe(issueMarker("dev"));
        expect(r.body).toContain("**Steps that failed:** pulumi up (failure), npm run status (failure).");
        expect(r.body).toContain("- bob: vm stopped, gateway 502");
        expect(r.body).not.toContain("- alice");
        expect(r.body).toContain("- orphan: vm devzed (id 42): carries a deployer key of this stack; no state record");
        expect(r.body).toContain("- carol: 2026-12-10");
    });

    it("a step that never ran is a failure, and a report a step did not write is said to be unknown", () => {
        const r = dailyReport({ ...base, outcomes: { ...GREEN, validate: "failure", up: "skipped" }, status: undefined, audit: undefined, expiringSoon: undefined });
        expect(r.failed).toBe(true);
        expect(r.body).toContain("npm run validate (failure), pulumi up (skipped)");
        expect(r.body).toContain("- unknown: status wrote no report");
        expect(r.body).toContain("- unknown: audit wrote no report");
        expect(r.body).toContain("- unknown: the users file does not load");
    });

    it("regression: a name from outside cannot inject markdown or HTML into the issue", () => {
        const r = dailyReport({ ...base, outcomes: { ...GREEN, up: "failure" }, status: { environments: [{ username: "x", healthy: false, problems: ["<img src=x> [y](z)"] }] } });
        expect(r.body).toContain("- x: \\<img src=x\\> \\[y\\](z)");
    });

    it("decides: open when failing with none open, update when one is open, close it when green, else nothing", () => {
        expect([decide(true, false), decide(true, true), decide(false, true), decide(false, false)]).toEqual(["create", "update", "close", "none"]);
        expect(dailyReport(base).failed).toBe(false);
    });
});

interface Issue {
    number: number;
    title: string;
    body: string;
    state: string;
    pull_request?: object;
}
let issues: Issue[];
let calls: string[];
let auths: string[];
let server: http.Server;
let apiUrl: string;

beforeAll(async () => {
    server = http.createServer((req, res) => {
        let text = "";
        req.on("data", (c) => (text += c));
        req.on("end", () => {
            const url = new URL(req.url!, "http://x");
            calls.push(`${req.method} ${url.pathname}${req.method === "GET" ? url.search : ""}`);
            auths.push(String(req.headers.authorization));
            const send = (status: number, body: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
            if (req.headers.authorization !== `token ${TOKEN}`) return send(401, { message: `bad credentials: ${req.headers.authorization}` });
            const m = /^\/api\/v1\/repos\/team\/deployer\/issues(?:\/(\d+))?(\/comments)?$/.exec(url.pathname);
            if (!m) return send(404, { message: "not found" });
            const body = text ? JSON.parse(text) : {};
            const issue = m[1] ? issues.find((i) => i.number === Number(m[1])) : undefined;
            if (req.method === "GET" && !m[1]) {
                const per = Number(url.searchParams.get("limit")), page = Number(url.searchParams.get("page"));
                return send(200, issues.filter((i) => i.state === "open").slice((page - 1) * per, page * per));
            }
            if (req.method === "POST" && !m[1]) {
                const created = { number: issues.length + 1, title: body.title, body: body.body, state: "open" };
                issues.push(created);
                return send(201, created);
            }
            if (!issue) return send(404, { message: "issue not found" });
            if (req.method === "PATCH") return send(201, Object.assign(issue, body));
            if (req.method === "POST" && m[2]) return send(201, { id: 1, body: body.body });
            return send(405, { message: "no" });
        });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

let dir: string;
beforeEach(() => {
    // 60 open pull requests and unrelated issues first: the run's issue is on the second page.
    issues = Array.from({ length: 60 }, (_, i) => ({ number: i + 1, title: `PR ${i}`, body: issueMarker("dev"), state: "open", ...(i % 2 === 0 ? { pull_request: {} } : {}) }));
    issues.forEach((i) => i.pull_request === undefined && (i.body = "unrelated"));
    calls = [];
    auths = [];
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "daily-issue-"));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: hero-os-grid-deployer\nruntime: nodejs\n");
    fs.mkdirSync(path.join(dir, "users"));
    fs.writeFileSync(path.join(dir, "users", "users.yaml"), 'users:\n  - { username: carol, email: c@example.org, fullName: C, expires: "2026-12-10" }\n');
    fs.writeFileSync(path.join(dir, "status.json"), JSON.stringify(STATUS));
    fs.writeFileSync(path.join(dir, "audit.json"), JSON.stringify(AUDIT));
});

async function run(outcomes: Record<string, string>, token = TOKEN) {
    const out: string[] = [];
    const err: string[] = [];
    const env = { ISSUE_TOKEN: token, ISSUE_API_URL: apiUrl, ISSUE_REPOSITORY: "team/deployer", ...Object.fromEntries(Object.entries(outcomes).map(([k, v]) => [`${k.toUpperCase()}_OUTCOME`, v])) };
    const argv = ["--stack", "dev", "--status", path.join(dir, "status.json"), "--audit", path.join(dir, "audit.json")];
    const code = await dailyIssue(argv, { projectDir: dir, out: (l) => out.push(l), err: (l) => err.push(l) }, env, "2026-12-07");
    return { code, out, err };
}

describe("npm run daily-issue, against a fake issue API", () => {
    it("a failing run opens one issue (pull requests and other issues passed over), a second updates it, a green run closes it", async () => {
        const first = await run({ ...GREEN, up: "failure" });
        expect(first.code).toBe(1);
        expect(first.out).toContain("daily-issue: opened issue #61");
        expect(issues[60]).toMatchObject({ title: "Daily run failed: stack dev", state: "open" });
        expect(issues[60].body).toContain("- bob: vm stopped, gateway 502");
        expect(issues[60].body).toContain("- carol: 2026-12-10");

        calls = [];
        const second = await run({ ...GREEN, audit: "failure" });
        expect(second.code).toBe(1);
        expect(second.out).toContain("daily-issue: updated issue #61");
        expect(calls.filter((c) => !c.startsWith("GET"))).toEqual(["PATCH /api/v1/repos/team/deployer/issues/61", "POST /api/v1/repos/team/deployer/issues/61/comments"]);
        expect(issues[60].body).toContain("npm run audit (failure)");
        expect(issues.filter((i) => i.title.startsWith("Daily run"))).toHaveLength(1);

        const green = await run(GREEN);
        expect(green.code).toBe(0);
        expect(green.out).toContain("daily-issue: closed issue #61");
        expect(issues[60].state).toBe("closed");
        expect(auths.every((a) => a === `token ${TOKEN}`)).toBe(true);
    });

    it("a green run with no issue open writes nothing", async () => {
        const r = await run(GREEN);
        expect(r.code).toBe(0);
        expect(r.out).toContain("daily-issue: no issue open, none needed");
        expect(calls.every((c) => c.startsWith("GET "))).toBe(true);
    });

    it("a refused token fails the step with the route and the forge's message, never the token", async () => {
        const wrong = `${TOKEN}-revoked`;
        const r = await run({ ...GREEN, up: "failure" }, wrong);
        expect(r.code).toBe(1);
        expect(r.err.join("\n")).toContain("daily-issue: GET /repos/team/deployer/issues?state=open");
        expect(r.err.join("\n")).toContain("HTTP 401: bad credentials: token [token]");
        expect(r.err.join("\n") + r.out.join("\n")).not.toContain(TOKEN);
    });
});
