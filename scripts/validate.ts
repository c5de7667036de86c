/**
 * `npm run validate -- [<users file>] [--stack <name>] [--json] [--require-users]`
 *
 * Checks a users file as `pulumi up` does, without the Pulumi CLI, credentials or
 * network: the same loader and cross-checks (users/load.ts), with the stack's
 * `usersFile` and `namePrefix` read from Pulumi.<stack>.yaml when there is one.
 * Prints every problem as `file:line:col: …`, then who is deployed, who has expired
 * (the next `pulumi up` tears them down) and who expires within 7 days.
 * Exit code 0 when the file is valid, 1 when it is not, 2 on a bad command line.
 */
import { parseArgs } from "util";
import { findProjectDir, runCommand, UsageError, type CommandIo } from "./lib/command";
import { printable, terminalJson } from "./lib/terminal";
import { checkStack, emptyFileAdvice, positioned, type StackCheck } from "./lib/validate-check";

export const VALIDATE_USAGE = [
    "usage: npm run validate -- [<users file>] [--stack <name>] [--json] [--require-users]",
    "  Checks the users file as `pulumi up` would, with no Pulumi CLI, credentials or network.",
    "  <users file>     default: the stack's usersFile (Pulumi.<stack>.yaml), else users/users.yaml",
    "  --stack          the stack whose config is read (default: $STACK, else dev)",
    "  --json           one JSON document on stdout instead of the report",
    "  --require-users  a file that lists no user fails (what `npm run deploy` runs)",
].join("\n");

export interface ValidateOptions {
    /** Today, YYYY-MM-DD (UTC). @default the current date */
    today?: string;
    /** The default stack when --stack is not given. @default $STACK, else "dev" */
    defaultStack?: string;
}

interface ValidateArgs {
    file?: string;
    stack?: string;
    json: boolean;
    requireUsers: boolean;
    help: boolean;
}

export function parseValidateArgs(argv: readonly string[]): ValidateArgs {
    let parsed: ReturnType<typeof parseArgs>;
    try {
        parsed = parseArgs({
            args: [...argv],
            options: { stack: { type: "string", short: "s" }, json: { type: "boolean" }, "require-users": { type: "boolean" }, help: { type: "boolean", short: "h" } },
            allowPositionals: true,
            strict: true,
        });
    } catch (err) {
        throw new UsageError((err as Error).message);
    }
    const v = parsed.values as Record<string, string | boolean | undefined>;
    if (parsed.positionals.length > 1) throw new UsageError(`one users file at a time, not ${parsed.positionals.length} (${parsed.positionals.join(", ")})`);
    if (v.stack !== undefined && String(v.stack).trim() === "") throw new UsageError("--stack needs a stack name");
    if (parsed.positionals[0] === "") throw new UsageError("the users file is an empty path");
    return { file: parsed.positionals[0], stack: v.stack as string | undefined, json: v.json === true, requireUsers: v["require-users"] === true, help: v.help === true };
}

/** The command: the exit code, lines through `io` (no Pulumi call is ever made). */
export async function validate(argv: readonly string[], io: Pick<CommandIo, "projectDir" | "out" | "err">, opts: ValidateOptions = {}): Promise<number> {
    const cmdIo = { ...io, pulumi: () => Promise.reject(new Error("validate never runs pulumi")) };
    return runCommand("validate", VALIDATE_USAGE, cmdIo, async () => {
        const args = parseValidateArgs(argv);
        if (args.help) {
            io.out(VALIDATE_USAGE);
            return 0;
        }
        const stack = args.stack ?? opts.defaultStack ?? (process.env.STACK || "dev");
        const r = checkStack(io.projectDir, stack, args.file, opts.today);
        const invalid = r.problems.length + r.configProblems.length > 0;
        const failed = invalid || (args.requireUsers && r.users.length + r.expired.length === 0);
        if (args.json) {
            io.out(terminalJson(jsonReport(r, !failed), 2));
            return failed ? 1 : 0;
        }
        // Problem lines quote the file's own text: control and bidi characters are shown as escapes.
        for (const line of report(r, args.requireUsers)) io.out(printable(line));
        return failed ? 1 : 0;
    });
}

/** The report's lines: every problem, or who is deployed, who goes and who goes soon. */
export function report(r: StackCheck, requireUsers: boolean): string[] {
    const lines = [...r.configProblems, ...r.problems];
    if (lines.length > 0) {
        const n = lines.length;
        const files = [...(r.configProblems.length > 0 ? [r.configFile] : []), ...(r.problems.length > 0 ? [r.displayPath] : [])].join(" and ");
        lines.push(`validate: ${files} ${r.configProblems.length > 0 && r.problems.length > 0 ? "have" : "has"} ${n} problem${n === 1 ? "" : "s"} (stack ${r.stack}); pulumi up would stop before deploying anything`);
        return lines;
    }
    if (r.users.length + r.expired.length === 0) {
        return [...lines, ...emptyFileAdvice(r.displayPath, r.stack, requireUsers)];
    }
    const n = r.users.length;
    lines.push(`validate: ${r.displayPath} is valid for stack ${r.stack}: ${n} user${n === 1 ? "" : "s"} to deploy${n > 0 ? ` (${r.users.map((u) => u.username).join(", ")})` : ""}`);
    for (const u of r.expired) lines.push(`validate: ${u.username}: expired on ${u.expires}; not deployed, so the next pulumi up tears the environment down`);
    for (const u of r.expiringSoon) lines.push(`validate: ${u.username}: expires on ${u.expires}; torn down by the first pulumi up after that day`);
    for (const w of r.warnings) lines.push(`validate: warning: ${w}`);
    return lines;
}

function jsonReport(r: StackCheck, ok: boolean) {
    return {
        ok,
        file: r.displayPath,
        stack: r.stack,
        configFile: r.configFile,
        namePrefix: r.namePrefix,
        problems: [...r.configProblems, ...r.problems].map(positioned),
        users: r.users.map((u) => u.username),
        expired: r.expired.map((u) => ({ username: u.username, expires: u.expires })),
        expiringSoon: r.expiringSoon.map((u) => ({ username: u.username, expires: u.expires })),
        warnings: r.warnings,
    };
}

if (require.main === module) {
    const projectDir = findProjectDir(process.cwd());
    const io = { projectDir, out: (line: string) => process.stdout.write(`${line}\n`), err: (line: string) => process.stderr.write(`${line}\n`) };
    void validate(process.argv.slice(2), io).then((code) => {
        process.exitCode = code;
    });
}
