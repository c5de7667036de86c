/**
 * The binding: how this deployer's logical operations (deployVm, getVm, …) map
 * onto the live Hero Compute's methods, params and result fields. It is data, in
 * a JSON file of the project (`providers/compute/binding.json` unless the stack
 * config `computeBinding` names another), read by the providers when they are
 * configured and by the preflight. An admin adapts to the live contract by
 * editing that file, never TypeScript: `npm run preflight` says what differs and
 * prints a binding that fits.
 *
 * Our side of the binding speaks one vocabulary, the logical names below (those of
 * the deployer's first guessed contract): sizes in MB, a VM id `vm_id` in params
 * and `id` in results (strings), one gateway `backend`, our VM and gateway states,
 * our notions of "not found", "name taken" and "name exists". The binding renames
 * each to the live name, converts sizes and id types, wraps the backend in a list,
 * fills live params we have no value for with constants, maps the service's state
 * words onto ours, says which errors mean what, where the keys go (with the deploy,
 * before it, or only with it), and how the token travels.
 */
import * as fs from "fs";
import * as path from "path";
import { bindingProblems } from "./binding-rules";
import * as rpc from "./client";
import { errorIs, type ErrorKind, liveParams, methodCandidates, ourResult } from "./wire";

export { bindingProblems, requiredParams } from "./binding-rules";
export { liveParams, methodCandidates, ourResult } from "./wire";

/** The project directory (the one with Pulumi.yaml): relative binding paths start here. */
export const PROJECT_DIR = path.resolve(__dirname, "..", "..");

/** Ubuntu 24.04 with zinit, the grid's official VM image: what every VM runs unless told otherwise. */
export const DEFAULT_FLIST = "https://hub.grid.tf/tf-official-vms/ubuntu-24.04-full.flist";

/** The binding used when the stack config does not name one. */
export const DEFAULT_BINDING_FILE = "providers/compute/binding.json";

/** What each logical operation sends (our param names), which of those it always needs, and what its result is. */
export const OPERATIONS = {
    deployVm: { params: ["name", "flist", "cpu", "memory", "disk", "mycelium", "public_ip", "ssh_keys", "node_id"], required: ["name", "flist", "cpu", "memory", "disk"], result: "Vm" },
    getVm: { params: ["vm_id"], required: ["vm_id"], result: "Vm" },
    listVms: { params: [], required: [], result: "Vm[]" },
    deleteVm: { params: ["vm_id"], required: ["vm_id"], result: undefined },
    injectKeys: { params: ["vm_id", "name", "ssh_keys"], required: ["ssh_keys"], result: undefined },
    deployGateway: { params: ["name", "backend", "vm_id", "node_id"], required: ["name", "backend"], result: "Gateway" },
    getGateway: { params: ["name"], required: ["name"], result: "Gateway" },
    listGateways: { params: [], required: [], result: "Gateway[]" },
    deleteGateway: { params: ["name"], required: ["name"], result: undefined },
} as const satisfies Record<string, { params: readonly string[]; required: readonly string[]; result: "Vm" | "Vm[]" | "Gateway" | "Gateway[]" | undefined }>;

export type OperationName = keyof typeof OPERATIONS;
export const OPERATION_NAMES = Object.keys(OPERATIONS) as OperationName[];

/** The result fields the providers read (our names), and those they cannot work without. */
export const RESULTS = {
    // `error`: what the service says went wrong with a deploy, when it says.
    Vm: { fields: ["id", "name", "state", "node_id", "mycelium_ip", "cpu", "memory", "ssh_keys", "error"], required: ["id", "name", "state", "mycelium_ip"] },
    // A gateway is proven ours by its backend (or VM id): without a backend nothing can be adopted or deleted safely.
    // Without a `state` a gateway is ready once deployed.
    Gateway: { fields: ["name", "fqdn", "backend", "vm_id", "state", "error"], required: ["name", "fqdn", "backend"] },
} as const;

export type ResultKind = keyof typeof RESULTS;

export interface OperationBinding {
    /** The live method, bare (`deploy_vm`), with the `service` prefix (`ComputeService.deploy_vm`), or with another prefix (`compute.vm_create`, tried as written only). */
    method: string;
    /** Our param name → the live one. Only what is listed is sent. */
    params?: Record<string, string>;
    /** Live params sent with a fixed value (in live units), e.g. `{ "rootfs": 16 }`. */
    constants?: Record<string, unknown>;
    /** Our param → the type it travels as, where it is not ours: `{ "vm_id": "integer" }` sends our id "42" as 42. */
    types?: Record<string, WireType>;
}

export type WireType = "string" | "integer";

/** Which JSON-RPC error means something: its code, a piece of its message (case-insensitive), or both. */
export interface ErrorMatch {
    code?: number;
    message?: string;
}

export interface Binding {
    /** What this file is, for the admin who opens it. */
    comment?: string;
    /** The prefix of the live methods (`ComputeService` for `ComputeService.deploy_vm`); "" for none. Bare methods are tried with it too. */
    service: string;
    /**
     * "with": deploy_vm carries the SSH keys, injectKeys adds keys later (by id or name).
     * "before": injectKeys registers them, by VM name, before deploy_vm.
     * "only-with": deploy_vm carries them and there is no key-injection method (leave injectKeys out):
     * a key change replaces the VM, and a leftover is adopted only with every key already on it.
     */
    keys: "with" | "before" | "only-with";
    /** "one": a gateway takes one `backend` URL. "list": it takes `backends: [url]`. */
    backends: "one" | "list";
    /** The unit of memory and disk sizes on the wire, both ways. */
    sizeUnit: "MB" | "GB";
    /** Our image (an flist URL) → what the live service calls it, e.g. a short name; images not listed go as they are. */
    images: Record<string, string>;
    /** One entry per operation; injectKeys is left out when keys are "only-with". */
    operations: Record<OperationName, OperationBinding>;
    /** Our result field → the live one, per result kind. */
    results: Record<ResultKind, Record<string, string>>;
    /** The service's state words → ours, per result kind. @default ours as they are (a VM's deploying, running, stopped, failed) */
    states?: Partial<Record<ResultKind, Record<string, string>>>;
    /** Which errors mean "not found", "name taken" (the gateway name is someone else's on the grid), "name exists" (on this service). @default codes -32004, -32010, -32011 */
    errors?: Partial<Record<"notFound" | "nameTaken" | "nameExists", ErrorMatch>>;
    /** The header the stack's computeToken travels in, and its scheme ("" for none). @default { "header": "Authorization", "scheme": "Bearer" } */
    auth?: { header: string; scheme: string };
}

/** The binding file as configured (relative to the project, or absolute), resolved. */
export function bindingPath(configured?: string): string {
    return path.resolve(PROJECT_DIR, configured || DEFAULT_BINDING_FILE);
}

/** Reads and checks a binding file; one error lists every problem, naming the file. */
export function loadBinding(configured?: string): Binding & { file: string } {
    const file = bindingPath(configured);
    let data: unknown;
    try {
        data = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (err) {
        throw new Error(`the Hero Compute binding ${file} cannot be read: ${(err as Error).message}`);
    }
    const problems = bindingProblems(data);
    if (problems.length > 0) {
        throw new Error(`the Hero Compute binding ${file} is not valid:\n  - ${problems.join("\n  - ")}`);
    }
    return { ...(data as Binding), file };
}

const BLOCKS = new Set(["operations", "results", "states", "errors"]);

/** A binding as its file is written: one line per setting, operation and result kind. */
export function formatBinding(b: Binding): string {
    const line = (v: unknown): string =>
        Array.isArray(v) ? `[${v.map(line).join(", ")}]`
        : v !== null && typeof v === "object" ? (Object.keys(v).length === 0 ? "{}" : `{ ${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${line(x)}`).join(", ")} }`)
        : JSON.stringify(v);
    const block = (o: Record<string, unknown>) => `{\n${Object.entries(o).map(([k, v]) => `    ${JSON.stringify(k)}: ${line(v)}`).join(",\n")}\n  }`;
    const top = Object.entries(b).filter(([k]) => k !== "file").map(([k, v]) => `  ${JSON.stringify(k)}: ${BLOCKS.has(k) ? block(v as Record<string, unknown>) : line(v)}`);
    return `{\n${top.join(",\n")}\n}\n`;
}

/** Which live name answered for a binding's method, per endpoint: shared by every provider copy in the host. */
function resolved(): Map<string, string> {
    const g = globalThis as { __heroComputeMethods?: Map<string, string> };
    return (g.__heroComputeMethods ??= new Map());
}

/** The JSON-RPC code for a method the service does not have. */
export const METHOD_NOT_FOUND = -32601;

/**
 * Hero Compute as our operations see it: one connection and one binding. Each
 * call tries the binding's method as written, then the other form (bare or
 * prefixed) when the service answers "method not found", and remembers per
 * endpoint which one answered.
 */
export class Compute {
    /** The connection, sending the token as the binding's `auth` says. */
    readonly conn: rpc.Conn;

    constructor(
        conn: rpc.Conn,
        readonly binding: Binding & { file?: string },
    ) {
        this.conn = connOf(conn, binding);
    }

    /** Whether the keys are registered with inject_ssh_keys before deploy_vm (which then carries none). */
    get keysFirst(): boolean {
        return this.binding.keys === "before";
    }

    /** Whether keys can be added to a VM that exists; false when they travel only with its deploy. */
    get keysInPlace(): boolean {
        return this.binding.keys !== "only-with";
    }

    /** Whether `err` is what the binding's `errors` say means `kind` ("not found", "name taken", "name exists"). */
    is(err: unknown, kind: ErrorKind): boolean {
        return errorIs(this.binding, err, kind);
    }

    async invoke<T>(op: OperationName, values: Record<string, unknown>, opts: { user?: string; retry?: boolean } = {}): Promise<T> {
        const bound = this.binding.operations[op];
        if (!bound) throw new Error(`the Hero Compute binding${this.binding.file ? ` ${this.binding.file}` : ""} has no ${op} operation (keys are "${this.binding.keys}")`);
        const written = bound.method;
        const key = `${rpc.canonicalEndpoint(this.conn.url)} ${written}`;
        const candidates = methodCandidates(written, this.binding.service);
        const known = resolved().get(key);
        const order = known ? [known, ...candidates.filter((c) => c !== known)] : candidates;
        const params = liveParams(this.binding, op, values);
        let missing: rpc.RpcError | undefined;
        for (const method of order) {
            try {
                const result = await rpc.call<T>(this.conn, method, params, opts);
                resolved().set(key, method);
                return result;
            } catch (err) {
                if (!rpc.isRpcCode(err, METHOD_NOT_FOUND)) throw err;
                missing ??= err as rpc.RpcError;
            }
        }
        const where = this.binding.file ? `the binding ${this.binding.file}` : "the binding";
        throw new rpc.RpcError(
            missing!.method,
            missing!.user,
            METHOD_NOT_FOUND,
            `${missing!.serverMessage} (tried ${order.join(" and ")} for our ${op}; ${where} does not fit this Hero Compute: run npm run preflight)`,
            false,
        );
    }

    async deployVm(values: Record<string, unknown>, user: string): Promise<rpc.Vm> {
        return ourResult(this.binding, "Vm", await this.invoke("deployVm", values, { user, retry: false }));
    }

    async getVm(vmId: string, user?: string): Promise<rpc.Vm> {
        return ourResult(this.binding, "Vm", await this.invoke("getVm", { vm_id: vmId }, { user }));
    }

    async listVms(user?: string): Promise<rpc.Vm[]> {
        const list = await this.invoke<unknown[]>("listVms", {}, { user });
        return (Array.isArray(list) ? list : []).map((v) => ourResult<rpc.Vm>(this.binding, "Vm", v));
    }

    async deleteVm(vmId: string, user: string): Promise<void> {
        await this.invoke("deleteVm", { vm_id: vmId }, { user });
    }

    /** Adds keys to a VM, named by id or by name as the binding says; before a deploy only the name is known. */
    async injectKeys(vm: { vm_id?: string; name: string }, keys: string[], user: string): Promise<void> {
        if (!this.keysInPlace) throw new Error(`${user}: keys travel only with the deploy (the binding's keys are "only-with"): they cannot be added to VM ${vm.vm_id ?? vm.name}`);
        await this.invoke("injectKeys", { ...vm, ssh_keys: keys }, { user });
    }

    async deployGateway(values: Record<string, unknown>, user: string): Promise<rpc.Gateway> {
        return ourResult(this.binding, "Gateway", await this.invoke("deployGateway", values, { user, retry: false }));
    }

    async getGateway(name: string, user?: string): Promise<rpc.Gateway> {
        return ourResult(this.binding, "Gateway", await this.invoke("getGateway", { name }, { user }));
    }

    async listGateways(user?: string): Promise<rpc.Gateway[]> {
        const list = await this.invoke<unknown[]>("listGateways", {}, { user });
        return (Array.isArray(list) ? list : []).map((g) => ourResult<rpc.Gateway>(this.binding, "Gateway", g));
    }

    async deleteGateway(name: string, user: string): Promise<void> {
        await this.invoke("deleteGateway", { name }, { user });
    }
}

/** The bound service a configured provider uses: its connection and the binding from `computeBinding`. */
export function computeFrom(s: Partial<rpc.ComputeSettings> & { binding?: Binding }): Compute {
    return new Compute(rpc.connFrom(s), s.binding ?? loadBinding(s.bindingFile));
}

/** A connection that sends the token as the binding's `auth` says. */
export function connOf(conn: rpc.Conn, b: Pick<Binding, "auth">): rpc.Conn {
    return b.auth ? { ...conn, authHeader: b.auth.header, authScheme: b.auth.scheme } : conn;
}
