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
 * and `id` in results, one gateway `backend`. The binding renames each to the live
 * name, converts sizes, wraps the backend in a list, and fills live params we have
 * no value for with constants.
 */
import * as fs from "fs";
import * as path from "path";
import * as rpc from "./client";

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
    Vm: { fields: ["id", "name", "state", "node_id", "mycelium_ip", "cpu", "memory", "ssh_keys"], required: ["id", "name", "state", "mycelium_ip"] },
    // A gateway is proven ours by its backend (or VM id): without a backend nothing can be adopted or deleted safely.
    Gateway: { fields: ["name", "fqdn", "backend", "vm_id"], required: ["name", "fqdn", "backend"] },
} as const;

export type ResultKind = keyof typeof RESULTS;

/** Logical params and result fields that are sizes: MB on our side, `sizeUnit` on the wire. */
const SIZES = new Set(["memory", "disk"]);

export interface OperationBinding {
    /** The live method, bare (`deploy_vm`) or prefixed (`ComputeService.deploy_vm`): the other form is tried too. */
    method: string;
    /** Our param name → the live one. Only what is listed is sent. */
    params?: Record<string, string>;
    /** Live params sent with a fixed value (in live units), e.g. `{ "rootfs": 16 }`. */
    constants?: Record<string, unknown>;
}

export interface Binding {
    /** What this file is, for the admin who opens it. */
    comment?: string;
    /** The service name that prefixes methods (`ComputeService.deploy_vm`). */
    service: string;
    /** "with": deploy_vm carries the SSH keys. "before": inject_ssh_keys registers them, by VM name, before deploy_vm. */
    keys: "with" | "before";
    /** "one": a gateway takes one `backend` URL. "list": it takes `backends: [url]`. */
    backends: "one" | "list";
    /** The unit of memory and disk sizes on the wire, both ways. */
    sizeUnit: "MB" | "GB";
    /** Our image (an flist URL) → what the live service calls it, e.g. a short name; images not listed go as they are. */
    images: Record<string, string>;
    operations: Record<OperationName, OperationBinding>;
    /** Our result field → the live one, per result kind. */
    results: Record<ResultKind, Record<string, string>>;
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

/** Every way `data` is not a usable binding. Empty when it is one. */
export function bindingProblems(data: unknown): string[] {
    const b = data as Partial<Binding> | null;
    if (!b || typeof b !== "object" || Array.isArray(b)) return ["not a JSON object"];
    const problems: string[] = [];
    const isMap = (x: unknown) => !!x && typeof x === "object" && !Array.isArray(x);
    const known = new Set(["comment", "service", "keys", "backends", "sizeUnit", "images", "operations", "results"]);
    for (const k of Object.keys(b)) if (!known.has(k)) problems.push(`unknown key ${k} (known: ${[...known].join(", ")})`);
    if (typeof b.service !== "string") problems.push(`service must be a string, e.g. "ComputeService"`);
    if (b.keys !== "with" && b.keys !== "before") problems.push(`keys must be "with" (deploy_vm carries them) or "before" (inject_ssh_keys first), not ${JSON.stringify(b.keys)}`);
    if (b.backends !== "one" && b.backends !== "list") problems.push(`backends must be "one" or "list", not ${JSON.stringify(b.backends)}`);
    if (b.sizeUnit !== "MB" && b.sizeUnit !== "GB") problems.push(`sizeUnit must be "MB" or "GB", not ${JSON.stringify(b.sizeUnit)}`);
    if (!isMap(b.images) || Object.values(b.images!).some((v) => typeof v !== "string")) problems.push("images must map image URLs to strings ({} for none)");
    if (!isMap(b.operations)) return [...problems, "operations must be an object with one entry per operation"];
    for (const k of Object.keys(b.operations!)) if (!(k in OPERATIONS)) problems.push(`operations.${k} is not one of ours (${OPERATION_NAMES.join(", ")})`);
    for (const op of OPERATION_NAMES) {
        const o = b.operations![op] as OperationBinding | undefined;
        if (!o || !isMap(o)) {
            problems.push(`operations.${op} is missing`);
            continue;
        }
        if (typeof o.method !== "string" || o.method === "") problems.push(`operations.${op}.method must name the live method`);
        if (o.params !== undefined && (!isMap(o.params) || Object.values(o.params).some((v) => typeof v !== "string"))) problems.push(`operations.${op}.params must map our param names to live ones`);
        if (o.constants !== undefined && !isMap(o.constants)) problems.push(`operations.${op}.constants must map live param names to values`);
        const params = isMap(o.params) ? o.params! : {};
        const ours: readonly string[] = OPERATIONS[op].params;
        for (const p of Object.keys(params)) if (!ours.includes(p)) problems.push(`operations.${op}.params.${p}: we have no param ${p} (ours: ${ours.join(", ") || "none"})`);
        for (const p of requiredParams(op, b.keys === "before" ? "before" : "with")) if (!(p in params)) problems.push(`operations.${op}.params must map our ${p}`);
    }
    if (b.keys === "with" && isMap(b.operations!.injectKeys) && !("vm_id" in (b.operations!.injectKeys.params ?? {})) && !("name" in (b.operations!.injectKeys.params ?? {}))) {
        problems.push("operations.injectKeys.params must map our vm_id or our name: how the live service names the VM");
    }
    if (!isMap(b.results)) return [...problems, "results must map our result fields to live ones, for Vm and Gateway"];
    for (const kind of Object.keys(RESULTS) as ResultKind[]) {
        const r = b.results![kind];
        if (!isMap(r) || Object.values(r).some((v) => typeof v !== "string")) {
            problems.push(`results.${kind} must map our field names to live ones`);
            continue;
        }
        const fields: readonly string[] = RESULTS[kind].fields;
        for (const f of Object.keys(r)) if (!fields.includes(f)) problems.push(`results.${kind}.${f}: we read no field ${f} (ours: ${fields.join(", ")})`);
        for (const f of RESULTS[kind].required) if (!(f in r)) problems.push(`results.${kind} must map our ${f}`);
    }
    return problems;
}

/** Our params an operation cannot go without, given where the keys go. */
export function requiredParams(op: OperationName, keys: Binding["keys"]): string[] {
    const req: string[] = [...OPERATIONS[op].required];
    if (op === "deployVm" && keys === "with") req.push("ssh_keys");
    if (op === "injectKeys" && keys === "before") req.push("name"); // before the deploy there is no id yet
    return req;
}

/** The live method names to try for an operation: as written first, then the other form (bare ↔ prefixed). */
export function methodCandidates(written: string, service: string): string[] {
    const prefix = `${service}.`;
    return [written, written.startsWith(prefix) ? written.slice(prefix.length) : `${prefix}${written}`];
}

/** The live params for one call: renamed, sizes converted, the backend wrapped, constants added. Unset values are not sent. */
export function liveParams(b: Binding, op: OperationName, values: Record<string, unknown>): Record<string, unknown> {
    const o = b.operations[op];
    const out: Record<string, unknown> = {};
    for (const [ours, live] of Object.entries(o.params ?? {})) {
        let v = values[ours];
        if (v === undefined || v === null) continue;
        if (SIZES.has(ours) && typeof v === "number" && b.sizeUnit === "GB") v = v / 1024;
        if (ours === "flist" && typeof v === "string") v = b.images[v] ?? v;
        if (ours === "backend" && b.backends === "list") v = [v];
        out[live] = v;
    }
    return { ...out, ...(o.constants ?? {}) };
}

/** A live result in our names: renamed, sizes back in MB, the first of a backend list, ids as strings. */
export function ourResult<T>(b: Binding, kind: ResultKind, raw: unknown): T {
    const r = (raw ?? {}) as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [ours, live] of Object.entries(b.results[kind])) {
        let v = r[live];
        if (v === undefined) continue;
        if (SIZES.has(ours) && typeof v === "number" && b.sizeUnit === "GB") v = v * 1024;
        if (ours === "backend" && Array.isArray(v)) v = v[0];
        if ((ours === "id" || ours === "vm_id") && typeof v === "number") v = String(v);
        out[ours] = v;
    }
    return out as T;
}

/** A binding as its file is written: one line per setting, operation and result kind. */
export function formatBinding(b: Binding): string {
    const line = (v: unknown): string =>
        Array.isArray(v) ? `[${v.map(line).join(", ")}]`
        : v !== null && typeof v === "object" ? (Object.keys(v).length === 0 ? "{}" : `{ ${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${line(x)}`).join(", ")} }`)
        : JSON.stringify(v);
    const block = (o: Record<string, unknown>) => `{\n${Object.entries(o).map(([k, v]) => `    ${JSON.stringify(k)}: ${line(v)}`).join(",\n")}\n  }`;
    const top = Object.entries(b).filter(([k]) => k !== "file").map(([k, v]) => `  ${JSON.stringify(k)}: ${k === "operations" || k === "results" ? block(v as Record<string, unknown>) : line(v)}`);
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
    constructor(
        readonly conn: rpc.Conn,
        readonly binding: Binding & { file?: string },
    ) {}

    /** Whether the keys are registered with inject_ssh_keys before deploy_vm (which then carries none). */
    get keysFirst(): boolean {
        return this.binding.keys === "before";
    }

    async invoke<T>(op: OperationName, values: Record<string, unknown>, opts: { user?: string; retry?: boolean } = {}): Promise<T> {
        const written = this.binding.operations[op].method;
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
