/**
 * The pure half of the daily run's issue (scripts/daily-issue.ts): from the
 * steps' outcomes, the status and audit reports and the users file, whether the
 * run failed and the issue's text; and from that and the issue already open,
 * what to do. No network here, so tests call it directly.
 */

/** A step's outcome as the workflow reports it (`steps.<id>.outcome`); "" when the step never ran. */
export type Outcome = "success" | "failure" | "cancelled" | "skipped" | "";

export interface DailyInputs {
    stack: string;
    /** YYYY-MM-DD (UTC). */
    date: string;
    outcomes: { validate: Outcome; up: Outcome; status: Outcome; audit: Outcome };
    /** `npm run status --json`, when it wrote one. */
    status?: { environments?: Array<{ username: string; healthy: boolean; problems: string[] }> };
    /** `npm run audit --json`, when it wrote one. */
    audit?: { orphans?: Finding[]; gone?: Finding[]; lookAlikes?: Finding[] };
    /** From the users file (the loader `pulumi up` uses); undefined when it does not load. */
    expiringSoon?: Array<{ username: string; expires?: string }>;
    /** The run's page, for the issue to link to. */
    runUrl?: string;
}

interface Finding {
    kind: string;
    name: string;
    id?: string;
    why: string;
}

export interface DailyReport {
    failed: boolean;
    title: string;
    /** The issue's body, starting with its marker. */
    body: string;
    /** One line for the run's log and the comments. */
    summary: string;
}

/** The hidden first line by which the run finds its own issue (titles get edited). */
export function issueMarker(stack: string): string {
    return `<!-- hero-os-grid-deployer daily run, stack ${stack} -->`;
}

const STEPS = [
    ["validate", "npm run validate"],
    ["up", "pulumi up"],
    ["status", "npm run status"],
    ["audit", "npm run audit"],
] as const;

export function dailyReport(x: DailyInputs): DailyReport {
    const failedSteps = STEPS.filter(([k]) => x.outcomes[k] !== "success").map(([k, name]) => `${name} (${x.outcomes[k] || "did not run"})`);
    const failed = failedSteps.length > 0;
    const unhealthy = (x.status?.environments ?? []).filter((e) => !e.healthy);
    const findings = [...(x.audit?.orphans ?? []).map((f) => ["orphan", f] as const), ...(x.audit?.gone ?? []).map((f) => ["gone", f] as const), ...(x.audit?.lookAlikes ?? []).map((f) => ["look-alike", f] as const)];
    const orphans = (x.audit?.orphans ?? []).length;
    const summary = failed
        ? `daily run of stack ${x.stack} on ${x.date} failed: ${failedSteps.join(", ")}; ${unhealthy.length} environment(s) failing, ${orphans} orphan(s), ${x.expiringSoon?.length ?? 0} user(s) expiring within 7 days`
        : `daily run of stack ${x.stack} on ${x.date} passed: every step succeeded`;
    const md = (s: string) => s.replace(/[\\`*_[\]<>|]/g, (c) => `\\${c}`);
    const list = <T>(items: readonly T[], line: (t: T) => string, none: string) => (items.length > 0 ? items.map((t) => `- ${line(t)}`) : [none]);
    const body = [
        issueMarker(x.stack),
        `The daily run of stack \`${md(x.stack)}\` failed on ${x.date}${x.runUrl ? ` ([the run](${x.runUrl}))` : ""}.`,
        "",
        `**Steps that failed:** ${failedSteps.map(md).join(", ") || "none"}.`,
        "",
        "**Environments that failed** (`npm run status`):",
        ...(x.status ? list(unhealthy, (e) => `${md(e.username)}: ${md(e.problems.join(", "))}`, "- none") : ["- unknown: status wrote no report (see the run's log)"]),
        "",
        "**Orphans and other audit findings** (`npm run audit`; `npm run audit -- --delete-orphans` removes orphans):",
        ...(x.audit ? list(findings, ([what, f]) => `${what}: ${md(f.kind)} ${md(f.name)}${f.id ? ` (id ${md(f.id)})` : ""}: ${md(f.why)}`, "- none") : ["- unknown: audit wrote no report (see the run's log)"]),
        "",
        "**Expiring within 7 days** (torn down by the first daily run after their day):",
        ...(x.expiringSoon ? list(x.expiringSoon, (u) => `${md(u.username)}: ${u.expires}`, "- none") : ["- unknown: the users file does not load"]),
        "",
        "The next green daily run closes this issue.",
    ].join("\n");
    return { failed, title: `Daily run failed: stack ${x.stack}`, body, summary };
}

export type IssueAction = "create" | "update" | "close" | "none";

/** Failed: open an issue, or update the open one. Green: close the open one, else nothing. */
export function decide(failed: boolean, open: boolean): IssueAction {
    if (failed) return open ? "update" : "create";
    return open ? "close" : "none";
}
