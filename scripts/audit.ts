/**
 * `npm run audit -- [--stack <name>] [--json] [--delete-orphans [--yes]]`
 *
 * Read-only by default: compares the stack's state (`pulumi stack export`) with
 * what Hero Compute (`list_vms`, `list_webgateways`) and Forge (`GET /admin/users`)
 * hold, and lists orphans (objects carrying this stack's proof of ownership but
 * no state record: billed VMs and gateways, accounts, the front doors' Forge
 * logins: `GET /user/applications/oauth2`), state records whose object
 * is gone, and look-alikes (our naming pattern without our proof). See
 * scripts/lib/audit-report.ts for the rules.
 *
 * `--delete-orphans` deletes orphaned Forge logins, gateways and VMs, re-checking the proof of
 * each just before deleting it, and orphaned accounts only when the stack's
 * `purgeAccountsOnTeardown` is true (the stack's own policy for accounts). It asks
 * first unless `--yes` is given. Look-alikes are never touched.
 *
 * Credentials are read as the other admin commands read them: the tokens with
 * `pulumi config get` (decrypted by the CLI into this process, never printed),
 * URLs from Pulumi.<stack>.yaml. Exit code 0 when there is nothing to report, 1
 * when there is (or a backend could not be read), 2 on a bad command line.
 */
import * as readline from "readline";
import * as rpc from "../providers/compute/client";
import { Compute, loadBinding } from "../providers/compute/bind";
import { belongs } from "../providers/compute/gateway";
import { call, deleteUser, type ForgeClientOptions } from "../providers/forge/client";
import { getApp, listApps } from "../providers/forge/oauth-app";
import { carriesKey, markerOwner, stackIdentity, type StackIdentity } from "../providers/ownership";
import { defaultNamePrefix } from "../components/naming";
import { audit, renderReport, type AuditReport, type Finding, type LiveUser, type StateRecords } from "./lib/audit-report";
import { parseFlags, processIo, runCommand, UsageError, type CommandIo } from "./lib/command";
import { printableIo, terminalJson } from "./lib/terminal";
import { projectName, stackSettings } from "./lib/project";
import { formatCommand, resolveStack, shortStackName, type PulumiRunner } from "./lib/pulumi-cli";

export const AUDIT_USAGE = [
    "usage: npm run audit -- [--stack <name>] [--json] [--delete-orphans [--yes]]",
    "  Lists this stack's orphans on Hero Compute and Forge, state records whose object is gone, and look-alikes.",
    "  --json            one JSON document on stdout instead of the report",
    "  --delete-orphans  delete the orphans (never look-alikes); accounts only when purgeAccountsOnTeardown is true",
    "  --yes             do not ask before deleting",
].join("\n");

export interface AuditOptions {
    /** Asks the admin; resolves true only on an explicit yes. Null when stdin is no terminal. */
    confirm: ((question: string) => Promise<boolean>) | null;
}

const TYPES = {
    vm: "pulumi-nodejs:dynamic/hero:Vm",
    gateway: "pulumi-nodejs:dynamic/hero:Gateway",
    account: "pulumi-nodejs:dynamic/hero:ForgeAccount",
    login: "pulumi-nodejs:dynamic/hero:ForgeLogin",
    key: "tls:index/privateKey:PrivateKey",
    stack: "pulumi:pulumi:Stack",
};

interface ExportedResource {
    urn: string;
    type: string;
    outputs?: Record<string, any>;
}

/** The user a child resource belongs to: its name is `<username>-<role>`. */
function userOf(urn: string): string {
    return (urn.split("::").pop() ?? "").replace(/-(vm|gateway|forge-account|ssh-key)$/, "");
}

/** What the audit needs from `pulumi stack export`: plain fields only, no secret is decrypted. */
export function stateRecords(exported: unknown, fallback: { identity: StackIdentity; namePrefix: string }): StateRecords {
    const resources: ExportedResource[] = (exported as any)?.deployment?.resources ?? [];
    const of = (type: string) => resources.filter((r) => r.type === type && r.outputs);
    const stackOut = of(TYPES.stack)[0]?.outputs?.stack;
    const identity = stackOut && typeof stackOut.id === "string" ? { stack: String(stackOut.stack), id: stackOut.id } : fallback.identity;
    return {
        identity,
        namePrefix: typeof stackOut?.namePrefix === "string" ? stackOut.namePrefix : fallback.namePrefix,
        vms: of(TYPES.vm).map((r) => ({ username: r.outputs!.username, name: r.outputs!.name, vmId: r.outputs!.vmId, computeEndpoint: r.outputs!.computeEndpoint, myceliumIp: r.outputs!.myceliumIp })),
        gateways: of(TYPES.gateway).map((r) => ({ username: r.outputs!.username, name: r.outputs!.name, vmId: r.outputs!.vmId, backend: r.outputs!.backend, computeEndpoint: r.outputs!.computeEndpoint })),
        accounts: of(TYPES.account).map((r) => ({
            username: r.outputs!.username, login: r.outputs!.login, userId: r.outputs!.userId, createdByTool: r.outputs!.createdByTool === true, managedBy: r.outputs!.managedBy,
        })),
        logins: of(TYPES.login).map((r) => ({ username: r.outputs!.username, appId: Number(r.outputs!.appId), name: r.outputs!.name, clientId: r.outputs!.clientId })),
        deployerKeys: of(TYPES.key)
            .filter((r) => typeof r.outputs!.publicKeyOpenssh === "string")
            .map((r) => ({ username: userOf(r.urn), key: r.outputs!.publicKeyOpenssh })),
    };
}

async function capture(run: PulumiRunner, args: string[]): Promise<string> {
    const { code, stdout } = await run(args, "capture");
    if (code !== 0) throw new Error(`\`${formatCommand(["pulumi", ...args])}\` failed (exit ${code}); see its message above`);
    return stdout;
}

/** A secret of the stack config, decrypted by the CLI, or undefined when it is not set. */
async function secretConfig(run: PulumiRunner, stack: string, key: string): Promise<string | undefined> {
    const { code, stdout } = await run(["config", "get", key, "--stack", stack], "capture");
    const value = stdout.trim();
    return code === 0 && value !== "" ? value : undefined;
}

/** [adminSearchUsers] Every user on the Forge, all pages: what the audit judges. */
export async function forgeUsers(c: ForgeClientOptions): Promise<LiveUser[]> {
    const all: LiveUser[] = [];
    for (let page = 1; ; page++) {
        const batch = (await call<LiveUser[]>(c, "GET /admin/users", { query: { page: String(page), limit: "50" } })).body ?? [];
        all.push(...batch);
        if (batch.length < 50) return all;
    }
}

export async function runAudit(argv: readonly string[], rawIo: CommandIo, opts: AuditOptions): Promise<number> {
    // Names, states and messages come from Hero Compute, the Forge and the state: no control character reaches the terminal.
    const io = printableIo(rawIo);
    return runCommand("audit", AUDIT_USAGE, io, async () => {
        const values = parseFlags(argv, {
            stack: { type: "string", short: "s" },
            json: { type: "boolean" },
            "delete-orphans": { type: "boolean" },
            yes: { type: "boolean", short: "y" },
            help: { type: "boolean", short: "h" },
        });
        if (values.help) {
            io.out(AUDIT_USAGE);
            return 0;
        }
        if (values.yes && !values["delete-orphans"]) throw new UsageError("--yes only goes with --delete-orphans");
        const stack = await resolveStack(io.pulumi, values.stack as string | undefined);
        const short = shortStackName(stack);
        const project = projectName(io.projectDir);
        const plain = stackSettings(io.projectDir, short).get;
        const computeUrl = plain("computeUrl");
        if (!computeUrl) throw new Error(`Pulumi.${short}.yaml sets no ${project}:computeUrl`);
        rpc.checkComputeUrl(computeUrl, `${project}:computeUrl in Pulumi.${short}.yaml`); // before any request or secret
        const forgeUrl = plain("forgeUrl");

        const parts = stack.split("/");
        const identity = parts.length === 3 ? stackIdentity(parts[0], parts[1], parts[2]) : stackIdentity("organization", project, short);
        const exported = JSON.parse(await capture(io.pulumi, ["stack", "export", "--stack", stack]));
        const rec = stateRecords(exported, { identity, namePrefix: plain("namePrefix") ?? defaultNamePrefix(short, identity.id) });

        const conn: rpc.Conn = { url: computeUrl, token: await secretConfig(io.pulumi, stack, `${project}:computeToken`), timeoutMs: 30_000 };
        // Through the stack's binding (config computeBinding), as the providers call Hero Compute.
        const compute = new Compute(conn, loadBinding(plain("computeBinding")));
        const [vms, gateways] = await Promise.all([compute.listVms("audit"), compute.listGateways("audit")]);
        const forgeToken = forgeUrl ? await secretConfig(io.pulumi, stack, `${project}:forgeToken`) : undefined;
        const forge: ForgeClientOptions | undefined = forgeUrl && forgeToken ? { baseUrl: forgeUrl, token: forgeToken } : undefined;
        const [users, apps] = forge ? await Promise.all([forgeUsers(forge), listApps(forge)]) : [undefined, undefined];
        const skipped = !forgeUrl ? `Pulumi.${short}.yaml sets no forgeUrl` : !forgeToken ? "forgeToken is not set for this stack" : undefined;

        const endpoint = rpc.canonicalEndpoint(computeUrl);
        const report = audit(short, endpoint, rec, { vms, gateways, users, apps });
        if (values.json) io.out(terminalJson({ ...report, computeUrl: endpoint, forgeUrl: forgeUrl ?? null, forgeAudited: users !== undefined }));
        else for (const line of renderReport(report, endpoint, forgeUrl, skipped)) io.out(line);

        if (!values["delete-orphans"]) {
            return report.orphans.length + report.gone.length + report.lookAlikes.length === 0 ? 0 : 1;
        }
        return deleteOrphans(report, { io, compute, forge, rec, purgeAccounts: plain("purgeAccountsOnTeardown") === "true", yes: values.yes === true, confirm: opts.confirm });
    });
}

interface DeleteContext {
    io: CommandIo;
    compute: Compute;
    forge?: ForgeClientOptions;
    rec: StateRecords;
    purgeAccounts: boolean;
    yes: boolean;
    confirm: AuditOptions["confirm"];
}

/** Deletes the orphans, gateways first; each one's proof is checked again just before. */
async function deleteOrphans(report: AuditReport, x: DeleteContext): Promise<number> {
    const accounts = report.orphans.filter((f) => f.kind === "account");
    const of = (kind: Finding["kind"]) => report.orphans.filter((f) => f.kind === kind);
    const doomed = [...of("login"), ...of("gateway"), ...of("vm"), ...(x.purgeAccounts ? accounts : [])];
    if (accounts.length > 0 && !x.purgeAccounts) {
        x.io.err(`audit: keeping ${accounts.length} orphaned account(s) (${accounts.map((a) => a.name).join(", ")}): purgeAccountsOnTeardown is not true for this stack`);
    }
    if (doomed.length === 0) {
        x.io.err("audit: no orphan to delete");
        return report.gone.length + report.lookAlikes.length + (x.purgeAccounts ? 0 : accounts.length) === 0 ? 0 : 1;
    }
    const list = doomed.map((f) => `${f.kind} ${f.name}`).join(", ");
    if (!x.yes) {
        if (!x.confirm) throw new UsageError("refusing to delete without --yes: stdin is not a terminal to ask on");
        if (!(await x.confirm(`delete ${doomed.length} orphan(s): ${list}? type yes to delete: `))) {
            x.io.err("audit: nothing deleted");
            return 1;
        }
    }
    let failed = 0;
    for (const f of doomed) {
        try {
            const done = await deleteOne(f, x);
            x.io.err(`audit: ${done ? "deleted" : "kept (its proof no longer holds)"} ${f.kind} ${f.name}${f.id ? ` (id ${f.id})` : ""}`);
        } catch (err) {
            failed++;
            x.io.err(`audit: could not delete ${f.kind} ${f.name}: ${(err as Error).message}`);
        }
    }
    return failed === 0 && report.gone.length + report.lookAlikes.length === 0 ? 0 : 1;
}

async function deleteOne(f: Finding, x: DeleteContext): Promise<boolean> {
    if (f.kind === "vm") {
        const vm = await x.compute.getVm(f.id!, "audit").catch(() => undefined);
        if (!vm || vm.name !== f.name || !x.rec.deployerKeys.some((k) => carriesKey(vm.ssh_keys, k.key))) return false;
        await x.compute.deleteVm(f.id!, "audit");
        return true;
    }
    if (f.kind === "gateway") {
        const gw = await x.compute.getGateway(f.name, "audit").catch(() => undefined);
        const recorded = x.rec.gateways.some((r) => r.name === f.name && gw && belongs(gw, r));
        if (!gw || recorded) return false;
        await x.compute.deleteGateway(f.name, "audit");
        return true;
    }
    if (f.kind === "login") {
        // The proof again, just before: this stack's marker, and still no state record.
        const app = await getApp(x.forge!, Number(f.id));
        if (!app || markerOwner(app.name, x.rec.identity).kind !== "ours" || (x.rec.logins ?? []).some((l) => l.appId === app.id)) return false;
        await call(x.forge!, "DELETE /user/applications/oauth2/{id}", { params: { id: app.id } });
        return true;
    }
    const user = (await call<LiveUser>(x.forge!, "GET /users/{username}", { params: { username: f.name } })).body;
    if (!user || String(user.id) !== f.id || markerOwner(user.description, x.rec.identity).kind !== "ours") return false;
    await deleteUser(x.forge!, f.name, true);
    return true;
}

if (require.main === module) {
    const confirm = process.stdin.isTTY
        ? (question: string) =>
              new Promise<boolean>((resolve) => {
                  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
                  rl.question(question, (answer) => {
                      rl.close();
                      resolve(answer.trim().toLowerCase() === "yes");
                  });
              })
        : null;
    void runAudit(process.argv.slice(2), processIo(), { confirm }).then((code) => {
        process.exitCode = code;
    });
}
