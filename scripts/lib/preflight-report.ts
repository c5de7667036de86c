/**
 * The report of `npm run preflight`: what it found for Hero Compute (the binding
 * against the live document), the Forge and SSH, as data (`--json`) and as text.
 * Pure: no network, no files.
 */
import { type Binding, formatBinding } from "../../providers/compute/bind";
import type { Fit, NamesFit } from "../../providers/compute/contract";

export type Section = "compute" | "forge" | "ssh";
export const SECTIONS: Section[] = ["compute", "forge", "ssh"];

/** One check of the Forge or the admin machine. */
export interface Check {
    check: string;
    ok: boolean;
    detail: string;
}

export interface ComputeReport {
    ok: boolean;
    url?: string;
    /** Where the live document came from: `rpc.discover` or `GET <url>`. */
    source?: string;
    /** The binding file checked. */
    binding?: string;
    operations: Fit["operations"];
    /** Every difference between the binding and the live document. */
    problems: string[];
    /** A binding that fits the live document, when ours does not. */
    suggestedBinding?: Binding;
    /** What the suggestion could not settle, for the admin to check. */
    suggestionNotes?: string[];
    /** What would still not fit with the suggestion (empty when it fits). */
    suggestionProblems?: string[];
    /** Set when the check could not run at all (no URL, no document, a bad binding file). */
    error?: string;
}

export interface ChecksReport {
    ok: boolean;
    url?: string;
    checks: Check[];
    error?: string;
}

export interface PreflightReport {
    ok: boolean;
    stack?: string;
    checkedAt: string;
    compute?: ComputeReport;
    forge?: ChecksReport;
    ssh?: ChecksReport;
}

/** `7 matched, missing a, b, extra c`: one cell of a row. */
function cell(f: NamesFit | undefined, what: string): string {
    if (!f) return `${what}: not described`;
    const parts = [`${f.matched.length} matched`];
    if (f.missing.length > 0) parts.push(`missing ${f.missing.join(", ")}`);
    if (f.extra.length > 0) parts.push(`extra ${f.extra.join(", ")}`);
    return `${what}: ${parts.join("; ")}`;
}

function pad(rows: string[][]): string[] {
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
    return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("  ").trimEnd());
}

export function renderCompute(r: ComputeReport): string[] {
    const lines = [`Hero Compute${r.url ? ` at ${r.url}` : ""}${r.source ? ` (document from ${r.source})` : ""}${r.binding ? `, binding ${r.binding}` : ""}`];
    if (r.error) return [...lines, `  failing: ${r.error}`];
    const rows = [["", "OPERATION", "LIVE METHOD", "PARAMS", "RESULT FIELDS"]];
    for (const o of r.operations) {
        rows.push([
            o.problems.length === 0 ? "ok" : "DIFFERS",
            o.operation,
            o.method ?? `(none: ${o.written})`,
            o.method ? cell(o.params, "params") : "",
            o.method && o.result !== undefined ? cell(o.result, "result") : o.method ? "result: not read or not described" : "",
        ]);
    }
    lines.push(...pad(rows).map((l) => `  ${l}`));
    if (r.problems.length === 0) {
        lines.push(`  The binding fits: every operation binds.`);
        return lines;
    }
    lines.push("", `  Differences (${r.problems.length}):`, ...r.problems.map((p) => `  - ${p}`));
    if (r.suggestedBinding) {
        const fits = (r.suggestionProblems ?? []).length === 0;
        lines.push(
            "",
            fits
                ? `  Suggested binding (it fits the live document): save it as ${r.binding ?? "the binding file"}, or elsewhere and point computeBinding at it, then run npm run preflight again.`
                : `  Suggested binding (it still differs in ${r.suggestionProblems!.length} places, listed after it): edit it, save it as ${r.binding ?? "the binding file"}, and run npm run preflight again.`,
            ...formatBinding(r.suggestedBinding).trimEnd().split("\n"),
        );
        if ((r.suggestionNotes ?? []).length > 0) lines.push("", "  Check these in the suggestion:", ...r.suggestionNotes!.map((n) => `  - ${n}`));
        if (!fits) lines.push("", "  Still differing with the suggestion:", ...r.suggestionProblems!.map((p) => `  - ${p}`));
    }
    return lines;
}

export function renderChecks(title: string, r: ChecksReport): string[] {
    const lines = [`${title}${r.url ? ` at ${r.url}` : ""}`];
    if (r.error) return [...lines, `  failing: ${r.error}`];
    lines.push(...pad(r.checks.map((c) => [c.ok ? "ok" : "failing", c.check, c.detail])).map((l) => `  ${l}`));
    return lines;
}

/** The whole report as text, ending with one summary line. */
export function renderReport(r: PreflightReport): string[] {
    const lines: string[] = [];
    const blocks: [string, string[]][] = [];
    if (r.compute) blocks.push(["compute", renderCompute(r.compute)]);
    if (r.forge) blocks.push(["forge", renderChecks("Forge", r.forge)]);
    if (r.ssh) blocks.push(["ssh", renderChecks("SSH from this machine", r.ssh)]);
    for (const [, block] of blocks) lines.push(...block, "");
    lines.push(summaryLine(r));
    return lines;
}

export function summaryLine(r: PreflightReport): string {
    const parts: [string, { ok: boolean } | undefined][] = [
        ["Hero Compute binding", r.compute],
        ["Forge", r.forge],
        ["SSH", r.ssh],
    ];
    const ran = parts.filter(([, p]) => p !== undefined);
    const failing = ran.filter(([, p]) => !p!.ok).map(([n]) => n);
    return failing.length === 0 ? `preflight: ready (${ran.map(([n]) => n).join(", ")} checked)` : `preflight: NOT ready: ${failing.join(", ")} (see above)`;
}
