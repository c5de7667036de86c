/**
 * The audit's judgement, pure: given what the stack's state records and what
 * Hero Compute and Forge hold now, which objects are this stack's orphans (they
 * carry its proof of ownership but no state record), which records point at
 * objects that are gone, and which objects look like ours (our naming pattern)
 * without the proof. Proof is what the providers use (providers/ownership.ts):
 * a VM carries a deployer key of this stack, a gateway points at one of this
 * stack's VMs, an account carries this stack's marker.
 */
import { belongs } from "../../providers/compute/gateway";
import type { Gateway, Vm } from "../../providers/compute/client";
import { carriesKey, markerOwner, managedElsewhere, type StackIdentity } from "../../providers/ownership";
import { auditLogins, type LiveApp, type LoginRecord } from "./audit-logins";

/** What the stack's state records, read from `pulumi stack export` (plain fields only). */
export interface StateRecords {
    identity: StackIdentity;
    namePrefix: string;
    vms: Array<{ username: string; name: string; vmId: string; computeEndpoint: string; myceliumIp?: string | null }>;
    gateways: Array<{ username: string; name: string; vmId?: string; backend: string; computeEndpoint: string }>;
    accounts: Array<{ username: string; login: string; userId: number; createdByTool: boolean; managedBy?: string }>;
    /** The Forge logins (OAuth2 applications); absent in records read by older callers. */
    logins?: LoginRecord[];
    /** Every user's deployer public key (tls `publicKeyOpenssh`), with the user it is for. */
    deployerKeys: Array<{ username: string; key: string }>;
}

export interface LiveUser {
    id: number;
    login: string;
    description?: string;
}

export interface Live {
    vms: Vm[];
    gateways: Gateway[];
    /** Undefined when Forge was not audited (no admin token). */
    users?: LiveUser[];
    /** The admin's OAuth2 applications; undefined when Forge was not audited. */
    apps?: LiveApp[];
}

export interface Finding {
    kind: "vm" | "gateway" | "account" | "login";
    name: string;
    /** VM id, Forge user id, or OAuth2 application id. */
    id?: string;
    /** Why it is listed, in words. */
    why: string;
}

export interface AuditReport {
    stack: string;
    identity: StackIdentity;
    namePrefix: string;
    counts: {
        vms: { inState: number; orphans: number; gone: number; lookAlikes: number };
        gateways: { inState: number; orphans: number; gone: number; lookAlikes: number };
        accounts: { inState: number; orphans: number; gone: number; lookAlikes: number; managedElsewhere: number } | null;
        /** The Forge logins; null when Forge was not audited. */
        logins: { inState: number; orphans: number; gone: number } | null;
    };
    orphans: Finding[];
    gone: Finding[];
    lookAlikes: Finding[];
    /** Accounts in state that this stack adopted read-only: not findings, listed for the record. */
    managedElsewhere: Finding[];
}

/** The audit of one stack on one compute endpoint. `endpoint` is the canonical URL the state's records must carry. */
export function audit(stack: string, endpoint: string, rec: StateRecords, live: Live): AuditReport {
    const orphans: Finding[] = [];
    const gone: Finding[] = [];
    const lookAlikes: Finding[] = [];
    const ours = (name: string) => rec.namePrefix !== "" && name.startsWith(rec.namePrefix);

    // VMs: recorded (same endpoint, id and name), or orphaned (carrying a deployer key of this stack).
    const recVms = rec.vms.filter((v) => v.computeEndpoint === endpoint);
    const liveById = new Map(live.vms.map((v) => [v.id, v]));
    const recorded = new Set<string>();
    for (const r of recVms) {
        const v = liveById.get(r.vmId);
        if (v && v.name === r.name) recorded.add(v.id);
        else gone.push({ kind: "vm", name: r.name, id: r.vmId, why: `${r.username}'s VM ${r.vmId} is gone from Hero Compute${v ? ` (the id now names ${v.name})` : ""}` });
    }
    const orphanVms = new Set<string>();
    for (const v of live.vms) {
        if (recorded.has(v.id)) continue;
        const owner = rec.deployerKeys.find((k) => carriesKey(v.ssh_keys, k.key));
        if (owner) {
            orphanVms.add(v.id);
            orphans.push({ kind: "vm", name: v.name, id: v.id, why: `${v.state}, carries the deployer key of ${owner.username}, but no state record: billed and unmanaged` });
        } else if (ours(v.name)) {
            lookAlikes.push({ kind: "vm", name: v.name, id: v.id, why: `our name pattern (${rec.namePrefix}…) but ${v.ssh_keys === undefined ? "Hero Compute reports no keys" : "no deployer key of this stack"}: not ours, left alone` });
        }
    }

    // Gateways: recorded and still pointing at the recorded VM; orphaned when pointing at a VM of this stack.
    const recGws = rec.gateways.filter((g) => g.computeEndpoint === endpoint);
    const liveGw = new Map(live.gateways.map((g) => [g.name, g]));
    const recordedGw = new Set<string>();
    for (const r of recGws) {
        const g = liveGw.get(r.name);
        if (g && belongs(g, r)) recordedGw.add(g.name);
        else gone.push({ kind: "gateway", name: r.name, why: g ? `${r.username}'s gateway name now points at ${g.backend}, not at their VM` : `${r.username}'s gateway is gone from Hero Compute` });
    }
    const ourVmIds = new Set([...recVms.map((v) => v.vmId), ...orphanVms]);
    const ourIps = [...recVms.map((v) => v.myceliumIp), ...live.vms.filter((v) => orphanVms.has(v.id)).map((v) => v.mycelium_ip)].filter((ip): ip is string => !!ip);
    for (const g of live.gateways) {
        if (recordedGw.has(g.name)) continue;
        // By VM id when the gateway records one, else by its backend's address (`http://[<ip>]:port`).
        const host = (() => {
            try {
                return new URL(g.backend).hostname.replace(/^\[|\]$/g, "");
            } catch {
                return "";
            }
        })();
        const toOurVm = g.vm_id ? ourVmIds.has(g.vm_id) : ourIps.includes(host);
        if (toOurVm) {
            orphans.push({ kind: "gateway", name: g.name, why: `points at ${g.backend}${g.vm_id ? ` (VM ${g.vm_id}, this stack's)` : ""}, but no state record` });
        } else if (ours(g.name) || recGws.some((r) => r.name === g.name)) {
            lookAlikes.push({ kind: "gateway", name: g.name, why: `our name pattern but points at ${g.backend}${g.vm_id ? ` (VM ${g.vm_id})` : ""}, no VM of this stack: left alone` });
        }
    }

    // Forge accounts: this stack's marker without a record; records of ours whose account is gone.
    let accounts: AuditReport["counts"]["accounts"] = null;
    const managed: Finding[] = [];
    if (live.users) {
        const byLogin = new Map(live.users.map((u) => [u.login.toLowerCase(), u]));
        const inState = new Set(rec.accounts.map((a) => a.login.toLowerCase()));
        let recordedAccounts = 0;
        const before = { orphans: orphans.length, gone: gone.length, lookAlikes: lookAlikes.length };
        for (const a of rec.accounts) {
            const u = byLogin.get(a.login.toLowerCase());
            if (!a.createdByTool) {
                managed.push({ kind: "account", name: a.login, id: u ? String(u.id) : undefined, why: a.managedBy || "adopted read-only" });
                continue;
            }
            if (u && (!a.userId || u.id === a.userId)) recordedAccounts++;
            else gone.push({ kind: "account", name: a.login, why: u ? "the login now belongs to another account" : "the account is gone from Forge" });
        }
        for (const u of live.users) {
            if (inState.has(u.login.toLowerCase())) continue;
            const owner = markerOwner(u.description, rec.identity);
            if (owner.kind === "ours") orphans.push({ kind: "account", name: u.login, id: String(u.id), why: "carries this stack's marker, but no state record (a create whose state write was lost, or an account kept when its user was removed with purgeAccountsOnTeardown off)" });
            else if (owner.kind === "legacy") lookAlikes.push({ kind: "account", name: u.login, id: String(u.id), why: `${managedElsewhere(owner)}: left alone` });
        }
        const count = (list: Finding[], from: number) => list.slice(from).filter((f) => f.kind === "account").length;
        accounts = {
            inState: recordedAccounts,
            orphans: count(orphans, before.orphans),
            gone: count(gone, before.gone),
            lookAlikes: count(lookAlikes, before.lookAlikes),
            managedElsewhere: managed.length,
        };
    }

    const logins = live.apps ? auditLogins(rec.logins ?? [], live.apps, rec.identity) : undefined;
    if (logins) {
        orphans.push(...logins.orphans);
        gone.push(...logins.gone);
    }

    const n = (list: Finding[], kind: Finding["kind"]) => list.filter((f) => f.kind === kind).length;
    return {
        stack,
        identity: rec.identity,
        namePrefix: rec.namePrefix,
        counts: {
            vms: { inState: recorded.size, orphans: n(orphans, "vm"), gone: n(gone, "vm"), lookAlikes: n(lookAlikes, "vm") },
            gateways: { inState: recordedGw.size, orphans: n(orphans, "gateway"), gone: n(gone, "gateway"), lookAlikes: n(lookAlikes, "gateway") },
            accounts,
            logins: logins?.counts ?? null,
        },
        orphans,
        gone,
        lookAlikes,
        managedElsewhere: managed,
    };
}

/** The report as lines for a terminal. */
export function renderReport(r: AuditReport, computeUrl: string, forgeUrl: string | undefined, forgeSkipped?: string): string[] {
    const c = r.counts;
    const lines = [
        `audit of stack ${r.stack}: identity ${r.identity.stack} (${r.identity.id}), grid-name prefix ${r.namePrefix}`,
        `Hero Compute ${computeUrl}:`,
        `  VMs:      ${c.vms.inState} in state, ${c.vms.orphans} orphaned, ${c.vms.gone} gone, ${c.vms.lookAlikes} look-alike`,
        `  gateways: ${c.gateways.inState} in state, ${c.gateways.orphans} orphaned, ${c.gateways.gone} gone, ${c.gateways.lookAlikes} look-alike`,
        c.accounts
            ? `Forge ${forgeUrl}:\n  accounts: ${c.accounts.inState} in state, ${c.accounts.orphans} orphaned, ${c.accounts.gone} gone, ${c.accounts.lookAlikes} look-alike, ${c.accounts.managedElsewhere} adopted read-only`
            : `Forge: not audited (${forgeSkipped ?? "no admin token"})`,
        ...(c.logins ? [`  logins:   ${c.logins.inState} in state, ${c.logins.orphans} orphaned, ${c.logins.gone} gone (OAuth2 applications of the front doors)`] : []),
    ];
    const section = (title: string, list: Finding[]) => {
        if (list.length === 0) return;
        lines.push(title);
        for (const f of list) lines.push(`  ${f.kind.padEnd(7)} ${f.name}${f.id ? ` (id ${f.id})` : ""}: ${f.why}`);
    };
    section("orphans (this stack's proof, no state record):", r.orphans);
    section("gone (a state record, no object):", r.gone);
    section("look-alikes (our naming pattern, not our proof; never touched):", r.lookAlikes);
    section("adopted read-only (in state, managed elsewhere):", r.managedElsewhere);
    const total = r.orphans.length + r.gone.length + r.lookAlikes.length;
    lines.push(
        total === 0
            ? "nothing to report: every object carrying this stack's proof is in its state, and every record's object exists"
            : `${r.orphans.length} orphaned, ${r.gone.length} gone, ${r.lookAlikes.length} look-alike` +
                  (r.orphans.length > 0 ? "; `npm run audit -- --delete-orphans` deletes the orphans" : "") +
                  (r.gone.length > 0 ? "; `pulumi refresh` drops the records of gone objects" : ""),
    );
    return lines;
}
