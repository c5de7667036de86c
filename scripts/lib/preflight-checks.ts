/**
 * The checks of `npm run preflight`, each read-only: Hero Compute's live
 * document against the binding (and a binding that fits), the Forge (version,
 * the admin token, the feedback repo), and whether this machine can reach
 * mycelium addresses. Nothing here writes anything anywhere.
 */
import type * as os from "os";
import * as path from "path";
import { type Binding, connOf, DEFAULT_FLIST, loadBinding, PROJECT_DIR } from "../../providers/compute/bind";
import * as rpc from "../../providers/compute/client";
import { authProblem, checkSuggested, fetchDocument, fitBinding, suggestBinding } from "../../providers/compute/contract";
import { call, type ForgeClientOptions, getRepo, getUser, isForgeStatus, splitRepo } from "../../providers/forge/client";
import type { Check, ChecksReport, ComputeReport } from "./preflight-report";

export interface ComputeCheckOptions {
    url: string;
    token?: string;
    /** The binding file, resolved. */
    bindingFile: string;
    /** Whether `computeGatewayNode` is set for the stack. */
    gatewayNode: boolean;
    timeoutMs: number;
}

/** The binding against the live document; a suggestion when it does not fit. */
export async function checkCompute(o: ComputeCheckOptions): Promise<ComputeReport> {
    const shown = path.relative(PROJECT_DIR, o.bindingFile);
    const base = { url: rpc.canonicalEndpoint(o.url), binding: shown.startsWith("..") ? o.bindingFile : shown, operations: [], problems: [] };
    let binding: Binding & { file: string };
    try {
        binding = loadBinding(o.bindingFile);
    } catch (err) {
        return { ...base, ok: false, error: (err as Error).message };
    }
    let live: { doc: unknown; source: string; refused?: string };
    try {
        live = await fetchDocument(connOf({ url: o.url, token: o.token, timeoutMs: o.timeoutMs, retries: 0 }, binding));
    } catch (err) {
        return { ...base, ok: false, error: (err as Error).message };
    }
    const opts = { gatewayNode: o.gatewayNode, images: [DEFAULT_FLIST] };
    const fit = fitBinding(binding, live.doc, opts);
    const problems = [...(live.refused ? [authProblem(binding, live.refused)] : []), ...fit.problems];
    const report: ComputeReport = { ...base, ok: problems.length === 0, source: live.source, operations: fit.operations, problems };
    if (!fit.ok) {
        const { file: _file, ...ours } = binding;
        const s = suggestBinding(ours, live.doc, opts);
        report.suggestedBinding = s.binding;
        report.suggestionNotes = s.notes;
        report.suggestionProblems = checkSuggested(s.binding, live.doc, opts);
    }
    return report;
}

export interface ForgeCheckOptions {
    url: string;
    /** The admin token, or why there is none. */
    token: string | { missing: string };
    feedbackRepo: string;
    timeoutMs: number;
}

/** Forgejo's version, whether the token is valid and an admin's, and whether the feedback repo exists or can be created. */
export async function checkForge(o: ForgeCheckOptions): Promise<ChecksReport> {
    const checks: Check[] = [];
    const anon: ForgeClientOptions = { baseUrl: o.url, timeoutMs: o.timeoutMs, retries: 0 };
    try {
        const v = (await call<{ version?: string }>(anon, "GET /version")).body;
        checks.push({ check: "version", ok: typeof v?.version === "string", detail: typeof v?.version === "string" ? `Forgejo ${v.version}` : "GET /version answered no version" });
    } catch (err) {
        checks.push({ check: "version", ok: false, detail: (err as Error).message });
        return { ok: false, url: o.url, checks };
    }
    if (typeof o.token !== "string") {
        checks.push({ check: "admin token", ok: false, detail: o.token.missing });
        return { ok: false, url: o.url, checks };
    }
    const c: ForgeClientOptions = { ...anon, token: o.token };
    let admin = false;
    try {
        const me = (await call<{ login: string; is_admin?: boolean }>(c, "GET /user")).body;
        admin = me.is_admin === true;
        checks.push({ check: "admin token", ok: admin, detail: admin ? `valid, belongs to ${me.login}, a site admin` : `valid, but ${me.login} is no site admin: the deployer creates accounts, so it needs an admin's token` });
    } catch (err) {
        const why = isForgeStatus(err, 401) ? "the Forge refuses this token (invalid, expired or revoked)" : (err as Error).message;
        checks.push({ check: "admin token", ok: false, detail: why });
    }
    checks.push(await feedbackRepoCheck(c, o.feedbackRepo, admin));
    return { ok: checks.every((x) => x.ok), url: o.url, checks };
}

async function feedbackRepoCheck(c: ForgeClientOptions, full: string, admin: boolean): Promise<Check> {
    const check = "feedback repo";
    try {
        const { owner } = splitRepo(full);
        if (await getRepo(c, full)) return { check, ok: true, detail: `${full} exists` };
        if (!admin) return { check, ok: false, detail: `${full} is not visible with this token, and only an admin's token could create it` };
        const org = await call(c, "GET /orgs/{org}", { params: { org: owner } }).then(
            () => true,
            (err) => (isForgeStatus(err, 404) ? false : Promise.reject(err)),
        );
        if (org) return { check, ok: true, detail: `${full} does not exist yet; the first pulumi up creates it in the organization ${owner}` };
        if (await getUser(c, owner)) {
            return { check, ok: false, detail: `${full} does not exist and ${owner} is a user account, not an organization: create the repo under that account by hand, or set feedbackRepo to an organization's repo` };
        }
        return { check, ok: true, detail: `${full} does not exist yet; the first pulumi up creates the organization ${owner} and the repo` };
    } catch (err) {
        return { check, ok: false, detail: (err as Error).message };
    }
}

/** Whether an address is a mycelium one: mycelium's overlay is 400::/7. */
export function isMyceliumAddress(address: string): boolean {
    if (!address.includes(":")) return false;
    const first = parseInt(address.toLowerCase().split("%")[0].split(":")[0] || "0", 16);
    return first >= 0x400 && first <= 0x5ff;
}

/** Whether this machine has a mycelium address on some interface (the bootstrap reaches VMs at theirs). */
export function checkSsh(interfaces: ReturnType<typeof os.networkInterfaces>): ChecksReport {
    const found = Object.entries(interfaces).flatMap(([name, addrs]) => (addrs ?? []).filter((a) => isMyceliumAddress(a.address)).map((a) => `${a.address} on ${name}`));
    const check: Check = found.length > 0
        ? { check: "mycelium", ok: true, detail: `an interface is up with a mycelium address: ${found.join(", ")}` }
        : { check: "mycelium", ok: false, detail: "no interface has a mycelium address (400::/7): start mycelium on this machine, or the SSH bootstrap cannot reach the VMs" };
    return { ok: check.ok, checks: [check] };
}
