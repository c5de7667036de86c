/**
 * `npm run preflight -- [--stack <name>] [--url <computeUrl>] [--binding <file>] [--json] [--only <sections>] …`
 *
 * Before the first `pulumi up` against a Hero Compute, a Forge or from a machine,
 * checks what the deployer will meet, read-only:
 * - Hero Compute: its live OpenRPC document (`rpc.discover`, else `GET
 *   /openrpc.json`) against the binding, one row per operation, every difference,
 *   and a suggested binding when ours does not fit;
 * - the Forge: its version, the admin token (valid, an admin's), the feedback repo
 *   (exists, or can be created);
 * - SSH: whether this machine has a mycelium address, to reach the VMs.
 * Exit code 0 only when every section checked passes, 1 otherwise, 2 on a bad
 * command line. It writes nothing anywhere: the suggestion is printed, not saved.
 * Secrets (the Forge token, the compute token) come from a file, the environment
 * or `pulumi config get`, never from the command line, and are never printed.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { bindingPath } from "../providers/compute/bind";
import { gatewayNodeFrom } from "../providers/compute/client";
import { insecureUrlProblem } from "../providers/url-rules";
import { parseFlags, processIo, runCommand, timeoutSeconds, UsageError, type CommandIo } from "./lib/command";
import { checkCompute, checkForge, checkSsh } from "./lib/preflight-checks";
import { renderReport, type PreflightReport, type Section, SECTIONS } from "./lib/preflight-report";
import { stackSettings } from "./lib/project";
import { printableIo, terminalJson } from "./lib/terminal";
import { formatCommand, resolveStack, shortStackName } from "./lib/pulumi-cli";

export const PREFLIGHT_USAGE = [
    "usage: npm run preflight -- [--stack <name>] [--url <computeUrl>] [--binding <file>] [--forge-url <url>]",
    "                            [--forge-token-file <file>] [--compute-token-file <file>] [--only <compute,forge,ssh>] [--json] [--timeout <seconds>]",
    "  Checks Hero Compute's live contract against the binding (and suggests one that fits), the Forge and its admin",
    "  token, and this machine's mycelium; read-only. Exit 0 only when everything checked is ready.",
    "  --url        Hero Compute, instead of the stack's computeUrl",
    "  --binding    the binding to check, instead of the stack's computeBinding (default providers/compute/binding.json)",
    "  --forge-url  the Forge, instead of the stack's forgeUrl",
    "  --forge-token-file / --compute-token-file   a file holding the token; else FORGE_TOKEN / COMPUTE_TOKEN, else `pulumi config get`",
    "  --only       some of compute, forge, ssh (comma-separated)",
    "  --json       one JSON document on stdout instead of the report",
    "  --timeout    seconds each request may take (default 10)",
].join("\n");

export interface PreflightOptions {
    /** The machine's interfaces; tests give their own. @default os.networkInterfaces() */
    networkInterfaces?: () => ReturnType<typeof os.networkInterfaces>;
    env?: NodeJS.ProcessEnv;
}

interface PreflightArgs {
    stack?: string;
    url?: string;
    binding?: string;
    forgeUrl?: string;
    forgeTokenFile?: string;
    computeTokenFile?: string;
    only: Section[];
    json: boolean;
    help: boolean;
    timeoutMs: number;
}

export function parsePreflightArgs(argv: readonly string[]): PreflightArgs {
    const v = parseFlags(argv, {
        stack: { type: "string", short: "s" },
        url: { type: "string" },
        binding: { type: "string" },
        "forge-url": { type: "string" },
        "forge-token-file": { type: "string" },
        "compute-token-file": { type: "string" },
        only: { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        timeout: { type: "string" },
    });
    const timeout = timeoutSeconds(v);
    const only = v.only === undefined ? SECTIONS : String(v.only).split(",").map((s) => s.trim());
    const unknown = only.filter((s) => !SECTIONS.includes(s as Section));
    if (unknown.length > 0 || only.length === 0) throw new UsageError(`--only takes some of ${SECTIONS.join(", ")}, not ${JSON.stringify(v.only)}`);
    return {
        stack: v.stack as string | undefined,
        url: v.url as string | undefined,
        binding: v.binding as string | undefined,
        forgeUrl: v["forge-url"] as string | undefined,
        forgeTokenFile: v["forge-token-file"] as string | undefined,
        computeTokenFile: v["compute-token-file"] as string | undefined,
        only: only as Section[],
        json: v.json === true,
        help: v.help === true,
        timeoutMs: timeout * 1000,
    };
}

export async function preflightCommand(argv: readonly string[], rawIo: CommandIo, opts: PreflightOptions = {}): Promise<number> {
    // Hero Compute's document and messages, the Forge's answers: no control character reaches the terminal.
    const io = printableIo(rawIo);
    return runCommand("preflight", PREFLIGHT_USAGE, io, async () => {
        const args = parsePreflightArgs(argv);
        if (args.help) {
            io.out(PREFLIGHT_USAGE);
            return 0;
        }
        const env = opts.env ?? process.env;
        const wants = (s: Section) => args.only.includes(s);
        // The stack is needed only for what the command line does not give.
        const needsStack = (wants("compute") && args.url === undefined) || (wants("forge") && (args.forgeUrl === undefined || (!args.forgeTokenFile && !env.FORGE_TOKEN)));
        const stack = args.stack ?? (needsStack ? await resolveStack(io.pulumi, undefined) : undefined);
        const short = stack === undefined ? undefined : shortStackName(stack);
        const settings = stackSettings(io.projectDir, short);
        const cfg = settings.get;
        const report: PreflightReport = { ok: true, stack: short, checkedAt: new Date().toISOString() };
        if (wants("compute")) {
            const url = args.url ?? cfg("computeUrl");
            const configured = args.binding ? path.resolve(args.binding) : cfg("computeBinding") ? path.resolve(io.projectDir, cfg("computeBinding")!) : undefined;
            const bindingFile = bindingPath(configured);
            const insecure = url ? insecureUrlProblem(url, args.url !== undefined ? "--url" : `computeUrl in Pulumi.${short}.yaml`, { unix: true }) : undefined;
            if (!url) {
                report.compute = { ok: false, binding: bindingFile, operations: [], problems: [], error: `no Hero Compute URL: give --url, or set computeUrl in Pulumi.${short}.yaml` };
            } else if (insecure) {
                // Before the token is read or anything is sent: it would travel in clear text.
                report.compute = { ok: false, binding: bindingFile, operations: [], problems: [], error: insecure };
            } else {
                const token = await secret(io, env, args.computeTokenFile, "COMPUTE_TOKEN", short, settings.has("computeToken") ? "computeToken" : undefined);
                const gatewayNode = cfg("computeGatewayNode");
                if (gatewayNode !== undefined) gatewayNodeFrom(gatewayNode);
                report.compute = await checkCompute({ url, token: typeof token === "string" ? token : undefined, bindingFile, gatewayNode: gatewayNode !== undefined, timeoutMs: args.timeoutMs });
            }
        }
        if (wants("forge")) {
            const url = args.forgeUrl ?? cfg("forgeUrl");
            if (!url) {
                report.forge = { ok: false, checks: [], error: `no Forge URL: give --forge-url, or set forgeUrl in Pulumi.${short}.yaml` };
            } else {
                const token = await secret(io, env, args.forgeTokenFile, "FORGE_TOKEN", short, "forgeToken");
                const feedbackRepo = cfg("feedbackRepo") ?? "lhumina_public/feedback";
                report.forge = await checkForge({ url: url.replace(/\/+$/, ""), token: token ?? { missing: "no admin token: give --forge-token-file, set FORGE_TOKEN, or set the stack's forgeToken" }, feedbackRepo, timeoutMs: args.timeoutMs });
            }
        }
        if (wants("ssh")) report.ssh = checkSsh((opts.networkInterfaces ?? os.networkInterfaces)());
        report.ok = [report.compute, report.forge, report.ssh].every((r) => r === undefined || r.ok);
        if (args.json) io.out(terminalJson(report, 2));
        else for (const line of renderReport(report)) io.out(line);
        return report.ok ? 0 : 1;
    });
}

/**
 * A secret, from (in order) a file, the environment, or `pulumi config get <key>`
 * for the stack; never from the command line. Undefined when none is set, or
 * `{ missing }` saying why it could not be read.
 */
async function secret(io: CommandIo, env: NodeJS.ProcessEnv, file: string | undefined, envName: string, stack: string | undefined, key: string | undefined): Promise<string | { missing: string } | undefined> {
    if (file) {
        try {
            return fs.readFileSync(file, "utf8").trim();
        } catch (err) {
            return { missing: `cannot read ${file}: ${(err as Error).message}` };
        }
    }
    if (env[envName]) return env[envName];
    if (!stack || !key) return undefined;
    const args = ["config", "get", key, "--stack", stack];
    try {
        const { code, stdout } = await io.pulumi(args, "capture");
        if (code === 0 && stdout.trim() !== "") return stdout.replace(/\r?\n$/, "");
        return { missing: `\`${formatCommand(["pulumi", ...args])}\` gave no value (exit ${code})` };
    } catch (err) {
        return { missing: (err as Error).message };
    }
}

if (require.main === module) {
    void preflightCommand(process.argv.slice(2), processIo()).then((code) => {
        process.exitCode = code;
    });
}
