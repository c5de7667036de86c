/**
 * The four dialects the fake Hero Compute (compute.ts) speaks: each one's
 * OpenRPC document, method names, params and results on the wire, error codes,
 * state words and auth header. The fake keeps its state in our names (`deploy_vm`,
 * `vm_id`, MB, one `backend`); this module translates a dialect's wire to ours
 * and back.
 * - "tracker": `providers/compute/openrpc.json`, the dialect Hero Compute's
 *   tracker describes (`ComputeService.` methods, keys by name BEFORE deploy_vm,
 *   `sid`, a data disk, GB, the flist by short name, `backends[]`).
 * - "today": `test/fixtures/compute/today.openrpc.json`, the first guess (bare
 *   names, keys with the deploy, `id`/`vm_id`, MB, one backend).
 * - "prefixed": today's with every method prefixed `ComputeService.`.
 * - "next": `test/fixtures/compute/next.openrpc.json`, made to differ in every
 *   way a binding can say: `compute.vm_create` and co., no key injection, integer
 *   ids, the states pending/up/halted/error, codes -32001/-32002/-32003, the
 *   token bare in `X-Api-Key`, a failure's `reason`.
 */
import * as fs from "fs";
import * as path from "path";

export const CONTRACT_PATH = path.resolve(__dirname, "..", "..", "providers", "compute", "openrpc.json");
/** The deployer's first guess at the contract, as it stood before the tracker was read. */
export const TODAY_CONTRACT_PATH = path.resolve(__dirname, "..", "fixtures", "compute", "today.openrpc.json");
/** The binding that fits today's document (and, with its names tried prefixed, the prefixed one). */
export const TODAY_BINDING_PATH = path.resolve(__dirname, "..", "fixtures", "compute", "today.binding.json");
/** The fourth dialect's document. */
export const NEXT_CONTRACT_PATH = path.resolve(__dirname, "..", "fixtures", "compute", "next.openrpc.json");

export type Dialect = "today" | "prefixed" | "tracker" | "next";
export const DIALECTS: Dialect[] = ["today", "prefixed", "tracker", "next"];
const PREFIX = "ComputeService.";

/** The "next" dialect's methods → our bare names. */
const NEXT_METHODS: Record<string, string> = {
    "compute.vm_create": "deploy_vm",
    "compute.vm_info": "get_vm",
    "compute.vm_list": "list_vms",
    "compute.vm_destroy": "delete_vm",
    "compute.gateway_create": "deploy_webgateway",
    "compute.gateway_info": "get_webgateway",
    "compute.gateway_list": "list_webgateways",
    "compute.gateway_destroy": "delete_webgateway",
};

/** Our states → the "next" dialect's words. */
const NEXT_VM_STATES: Record<string, string> = { deploying: "pending", running: "up", stopped: "halted", failed: "error" };
const NEXT_GATEWAY_STATES: Record<string, string> = { deploying: "pending", ready: "active", failed: "error" };

/** The error codes each dialect answers with. */
export function errorCodes(dialect: Dialect): { notFound: number; nameTaken: number; nameExists: number; deployFailed: number } {
    return dialect === "next" ? { notFound: -32001, nameTaken: -32002, nameExists: -32003, deployFailed: -32003 } : { notFound: -32004, nameTaken: -32010, nameExists: -32011, deployFailed: -32020 };
}

/** The repo's OpenRPC document (the tracker's dialect), freshly parsed (callers may mutate it). */
export function loadContract(): any {
    return JSON.parse(fs.readFileSync(CONTRACT_PATH, "utf8"));
}

/** The document a dialect serves, freshly parsed. */
export function dialectDocument(dialect: Dialect): any {
    if (dialect === "tracker") return loadContract();
    if (dialect === "next") return JSON.parse(fs.readFileSync(NEXT_CONTRACT_PATH, "utf8"));
    const doc = JSON.parse(fs.readFileSync(TODAY_CONTRACT_PATH, "utf8"));
    if (dialect === "prefixed") {
        for (const m of doc.methods) if (!m.name.startsWith("rpc.")) m.name = `${PREFIX}${m.name}`;
        doc.info.title = `${doc.info.title}, with prefixed method names`;
    }
    return doc;
}

/** Our bare name of a wire method the document has. */
export function opNameOf(dialect: Dialect, wire: string): string {
    if (dialect === "next") return NEXT_METHODS[wire] ?? wire;
    return wire.startsWith(PREFIX) ? wire.slice(PREFIX.length) : wire;
}

/** The wire names a method of ours may have in a dialect. */
export function wireCandidates(dialect: Dialect, ours: string): string[] {
    if (dialect === "next") return [...Object.entries(NEXT_METHODS).filter(([, o]) => o === ours).map(([w]) => w), ours];
    return [ours, `${PREFIX}${ours}`];
}

/** Whether a request carries the token as the dialect wants it: `Authorization: Bearer`, or the bare token in `X-Api-Key` ("next"). */
export function authorized(dialect: Dialect, token: string, headers: Record<string, string | string[] | undefined>): boolean {
    return dialect === "next" ? headers["x-api-key"] === token : headers.authorization === `Bearer ${token}`;
}

/** The dialect's id on the wire: the fake's ids are strings of digits ("200"), integers in "next" (200). */
const wireId = (dialect: Dialect, id: string | null): unknown => (dialect === "next" && id !== null ? parseInt(id, 10) : id);
const ourId = (v: unknown): string | undefined => (typeof v === "number" ? String(v) : (v as string | undefined));

export class DialectError extends Error {
    constructor(
        readonly code: number,
        message: string,
    ) {
        super(message);
    }
}

/** A dialect's params in our names and units (MB); today's and the prefixed one's are ours already. */
export function inbound(dialect: Dialect, op: string, p: Record<string, any>, pendingKeys: Map<string, string[]>): Record<string, any> {
    const gb = (v: unknown) => (typeof v === "number" ? Math.round(v * 1024) : v);
    if (dialect === "next") {
        switch (op) {
            case "deploy_vm":
                return { name: p.name, flist: p.image, cpu: p.vcpu, memory: p.memory_mb, rootfs_size: p.rootfs_mb, disk_size: p.disk_mb, mycelium: true, public_ip: false, node_id: p.node, ssh_keys: p.authorized_keys };
            case "get_vm":
            case "delete_vm":
                return { vm_id: ourId(p.id) };
            case "deploy_webgateway":
                return { name: p.name, backend: p.backend, vm_id: ourId(p.vm), node_id: p.node };
            default:
                return p;
        }
    }
    if (dialect !== "tracker") return p;
    switch (op) {
        case "deploy_vm": {
            const keys = pendingKeys.get(p.name) ?? [];
            return { name: p.name, flist: p.flist, cpu: p.cpu, memory: gb(p.memory), rootfs_size: gb(p.rootfs), disk_size: gb(p.disk), mycelium: true, public_ip: p.publicip, node_id: p.node_id, ssh_keys: keys };
        }
        case "get_vm":
        case "delete_vm":
            return { vm_id: p.sid };
        case "deploy_webgateway":
            if (p.backends.length !== 1) throw new DialectError(-32602, `Invalid params: this fake takes exactly one backend, not ${p.backends.length}`);
            return { name: p.name, backend: p.backends[0], node_id: p.node_id };
        default:
            return p;
    }
}

export interface VmView {
    id: string;
    name: string;
    state: string;
    node_id: number;
    mycelium_ip: string | null;
    cpu: number;
    memory: number;
    rootfs_size: number;
    disk_size: number;
    ssh_keys?: string[];
    error: string | null;
}

/** A Vm result in the dialect's names (keys left out when the fake hides them). */
export function vmOut(dialect: Dialect, v: VmView): unknown {
    const keys = v.ssh_keys === undefined ? {} : { ssh_keys: v.ssh_keys };
    if (dialect === "next") {
        const k = v.ssh_keys === undefined ? {} : { authorized_keys: v.ssh_keys };
        return { id: wireId(dialect, v.id), name: v.name, status: NEXT_VM_STATES[v.state], node: v.node_id, mycelium_address: v.mycelium_ip, vcpu: v.cpu, memory_mb: v.memory, disk_mb: v.disk_size, ...k, reason: v.error };
    }
    if (dialect === "tracker") return { sid: v.id, name: v.name, state: v.state, node_id: v.node_id, mycelium_ip: v.mycelium_ip, cpu: v.cpu, memory: v.memory / 1024, disk: v.disk_size / 1024, rootfs: v.rootfs_size / 1024, ...keys };
    return { id: v.id, name: v.name, state: v.state, node_id: v.node_id, mycelium_ip: v.mycelium_ip, cpu: v.cpu, memory: v.memory, rootfs_size: v.rootfs_size, ...keys };
}

/** A Gateway result in the dialect's names. */
export function gatewayOut(dialect: Dialect, gw: { name: string; fqdn: string; backend: string; vm_id: string | null; node_id: number | null; state: string; error: string | null }): unknown {
    if (dialect === "next") return { name: gw.name, domain: gw.fqdn, backend: gw.backend, vm: wireId(dialect, gw.vm_id), status: NEXT_GATEWAY_STATES[gw.state], reason: gw.error };
    if (dialect === "tracker") return { name: gw.name, fqdn: gw.fqdn, backends: [gw.backend], node_id: gw.node_id };
    return { name: gw.name, fqdn: gw.fqdn, backend: gw.backend, vm_id: gw.vm_id };
}
