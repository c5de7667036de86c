/**
 * `npm run daily-issue -- [--stack <name>] [--status <json file>] [--audit <json file>]`
 *
 * The daily run's last step (.github/workflows/pulumi.yml, job `daily`, and its
 * Forgejo twin): reads the steps' outcomes from VALIDATE_OUTCOME, UP_OUTCOME,
 * STATUS_OUTCOME and AUDIT_OUTCOME, the reports `npm run status --json` and
 * `npm run audit --json` wrote, and who expires within 7 days from the users
 * file. On a failure it opens one issue in the repository, or updates the one
 * already open (found by its hidden marker); a green run closes it. It goes
 * through the issue routes GitHub and Forgejo both serve (ISSUE_API_URL:
 * `https://api.github.com` or `https://<forge>/api/v1`), as ISSUE_REPOSITORY,
 * with ISSUE_TOKEN (the run's own token, read from the environment only).
 * Exit code 1 when the run failed or the issue could not be written, else 0.
 */
import * as fs from "fs";
import { findProjectDir, parseFlags, runCommand, type CommandIo } from "./lib/command";
import { dailyReport, decide, issueMarker, type DailyInputs, type Outcome } from "./lib/daily-report";
import { checkStack } from "./lib/validate-check";

export const DAILY_ISSUE_USAGE = [
    "usage: npm run daily-issue -- [--stack <name>] [--status <json file>] [--audit <json file>]",
    "  Opens, updates or closes the daily run's issue; env ISSUE_TOKEN, ISSUE_API_URL, ISSUE_REPOSITORY,",
    "  VALIDATE_OUTCOME, UP_OUTCOME, STATUS_OUTCOME, AUDIT_OUTCOME, RUN_URL (optional).",
].join("\n");

/** One failed issue request: the route and status, and the forge's own message; never the token. */
export class IssueApiError extends Error {
    constructor(
        readonly route: string,
        readonly status: number | undefined,
        message: string,
    ) {
        super(`${route}: ${status === undefined ? "" : `HTTP ${status}: `}${message}`);
        this.name = "IssueApiError";
    }
}

export interface IssueApi {
    apiUrl: string;
    /** `owner/name`. */
    repository: string;
    token: string;
    /** Time limit of one request. @default 30000 */
    timeoutMs?: number;
}

/** One request to the issue API: JSON in and out, a timeout, failures as IssueApiError. */
export async function call(api: IssueApi, method: string, route: string, body?: unknown): Promise<any> {
    const where = `${method} ${route}`;
    const redact = (s: string) => (api.token ? s.split(api.token).join("[token]") : s);
    let res: Response;
    try {
        res = await fetch(`${api.apiUrl.replace(/\/+$/, "")}${route}`, {
            method,
            headers: { Authorization: `token ${api.token}`, Accept: "application/json", "Content-Type": "application/json", "User-Agent": "hero-os-grid-deployer" },
            body: body === undefined ? undefined : JSON.stringify(body),
            signal: AbortSignal.timeout(api.timeoutMs ?? 30_000),
        });
    } catch (err) {
        throw new IssueApiError(where, undefined, redact((err as Error).message));
    }
    const text = await res.text();
    if (!res.ok) {
        let message = text.slice(0, 300);
        try {
            message = (JSON.parse(text) as { message?: string }).message ?? message;
        } catch {
            // not JSON: the text as it came
        }
        throw new IssueApiError(where, res.status, redact(message));
    }
    return text === "" ? undefined : JSON.parse(text);
}

const PAGE = 50;
const MAX_PAGES = 20;

/** The open issue carrying `marker` (pull requests skipped), or undefined. */
export async function findOpenIssue(api: IssueApi, marker: string): Promise<number | undefined> {
    const repo = repoPath(api.repository);
    for (let page = 1; page <= MAX_PAGES; page++) {
        // GitHub pages with per_page, Forgejo with limit; each ignores the other's.
        const items = (await call(api, "GET", `${repo}/issues?state=open&per_page=${PAGE}&limit=${PAGE}&page=${page}`)) as Array<{ number: number; body?: string | null; pull_request?: unknown }>;
        const found = items.find((i) => !i.pull_request && (i.body ?? "").startsWith(marker));
        if (found) return found.number;
        if (items.length < PAGE) return undefined;
    }
    return undefined;
}

function repoPath(repository: string): string {
    const parts = repository.split("/");
    if (parts.length !== 2 || parts.some((p) => !/^[A-Za-z0-9._-]+$/.test(p))) throw new Error(`ISSUE_REPOSITORY must be owner/name, not "${repository}"`);
    return `/repos/${parts.map(encodeURIComponent).join("/")}`;
}

/** Reads the inputs, then opens, updates or closes the issue. Returns the exit code. */
export async function dailyIssue(argv: readonly string[], io: Pick<CommandIo, "projectDir" | "out" | "err">, env: NodeJS.ProcessEnv, today?: string): Promise<number> {
    const cmdIo = { ...io, pulumi: () => Promise.reject(new Error("daily-issue never runs pulumi")) };
    return runCommand("daily-issue", DAILY_ISSUE_USAGE, cmdIo, async () => {
        const v = parseFlags(argv, { stack: { type: "string" }, status: { type: "string" }, audit: { type: "string" }, help: { type: "boolean", short: "h" } });
        if (v.help) {
            io.out(DAILY_ISSUE_USAGE);
            return 0;
        }
        const stack = (v.stack as string | undefined) ?? (env.PULUMI_STACK || "dev");
        const date = today ?? new Date().toISOString().slice(0, 10);
        const users = checkStack(io.projectDir, stack, undefined, date);
        const outcome = (name: string) => (env[`${name}_OUTCOME`] ?? "") as Outcome;
        const inputs: DailyInputs = {
            stack: users.stack,
            date,
            outcomes: { validate: outcome("VALIDATE"), up: outcome("UP"), status: outcome("STATUS"), audit: outcome("AUDIT") },
            status: readJson(v.status as string | undefined),
            audit: readJson(v.audit as string | undefined),
            expiringSoon: users.problems.length + users.configProblems.length === 0 ? users.expiringSoon : undefined,
            runUrl: env.RUN_URL || undefined,
        };
        const report = dailyReport(inputs);
        io.out(`daily-issue: ${report.summary}`);
        const api: IssueApi = { apiUrl: env.ISSUE_API_URL ?? "", repository: env.ISSUE_REPOSITORY ?? "", token: env.ISSUE_TOKEN ?? "" };
        const missing = (["ISSUE_API_URL", "ISSUE_REPOSITORY", "ISSUE_TOKEN"] as const).filter((k) => !env[k]);
        if (missing.length > 0) throw new Error(`${missing.join(", ")} not set: the issue was not written`);
        const repo = repoPath(api.repository);
        const open = await findOpenIssue(api, issueMarker(inputs.stack));
        const action = decide(report.failed, open !== undefined);
        if (action === "create") {
            const created = (await call(api, "POST", `${repo}/issues`, { title: report.title, body: report.body })) as { number: number };
            io.out(`daily-issue: opened issue #${created.number}`);
        } else if (action === "update") {
            await call(api, "PATCH", `${repo}/issues/${open}`, { title: report.title, body: report.body });
            await call(api, "POST", `${repo}/issues/${open}/comments`, { body: `Still failing: ${report.summary}.` });
            io.out(`daily-issue: updated issue #${open}`);
        } else if (action === "close") {
            await call(api, "POST", `${repo}/issues/${open}/comments`, { body: `Green again: ${report.summary}. Closing.` });
            await call(api, "PATCH", `${repo}/issues/${open}`, { state: "closed" });
            io.out(`daily-issue: closed issue #${open}`);
        } else {
            io.out("daily-issue: no issue open, none needed");
        }
        return report.failed ? 1 : 0;
    });
}

/** A step's JSON report, or undefined when the step wrote none (or not whole). */
function readJson<T>(file: string | undefined): T | undefined {
    if (!file) return undefined;
    try {
        return JSON.parse(fs.readFileSync(file, "utf8")) as T;
    } catch {
        return undefined;
    }
}

if (require.main === module) {
    const io = { projectDir: findProjectDir(process.cwd()), out: (l: string) => process.stdout.write(`${l}\n`), err: (l: string) => process.stderr.write(`${l}\n`) };
    void dailyIssue(process.argv.slice(2), io, process.env).then((code) => {
        process.exitCode = code;
    });
}
