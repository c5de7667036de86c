/**
 * A binding suggested from the live document: for each of our operations, the
 * live method (the binding's own name first, then known synonyms, bare or
 * prefixed), and for each of our params and result fields the live name (the
 * binding's first, then synonyms such as `sid` for an id); where the keys go
 * (a deploy_vm without a keys param means keys before it), one backend or a
 * list, the size unit and image names as the document describes them, and
 * constants for required live params we have no value for (from the document's
 * default or example). What it cannot tell is said in `notes`. Pure.
 */
import { type Binding, DEFAULT_FLIST, methodCandidates, OPERATION_NAMES, OPERATIONS, type OperationBinding, type OperationName, RESULTS, type ResultKind } from "./bind";
import { type LiveMethod, type LiveParam, liveMethod, liveParamsOf, resultProperties } from "./document";

export interface Suggestion {
    binding: Binding;
    /** What the suggestion could not settle from the document, for the admin to check. */
    notes: string[];
}

const METHOD_SYNONYMS: Record<OperationName, string[]> = {
    deployVm: ["deploy_vm", "create_vm"],
    getVm: ["get_vm", "vm_get"],
    listVms: ["list_vms", "vm_list"],
    deleteVm: ["delete_vm", "remove_vm", "destroy_vm", "undeploy_vm", "vm_delete"],
    injectKeys: ["inject_ssh_keys", "add_ssh_keys", "set_ssh_keys"],
    deployGateway: ["deploy_webgateway", "deploy_gateway", "create_webgateway", "create_gateway"],
    getGateway: ["get_webgateway", "get_gateway"],
    listGateways: ["list_webgateways", "list_gateways"],
    deleteGateway: ["delete_webgateway", "delete_gateway", "remove_webgateway", "remove_gateway"],
};

const PARAM_SYNONYMS: Record<string, string[]> = {
    name: ["name", "vm_name", "workload_name"],
    flist: ["flist", "image", "flist_url"],
    cpu: ["cpu", "cpus", "vcpu", "vcpus", "cores"],
    memory: ["memory", "memory_mb", "memory_gb", "mem", "ram"],
    mycelium: ["mycelium", "mycelium_enabled", "enable_mycelium"],
    public_ip: ["public_ip", "publicip", "public_ipv4"],
    ssh_keys: ["ssh_keys", "keys", "ssh_key", "public_keys", "sshkeys"],
    node_id: ["node_id", "node", "nodeid"],
    vm_id: ["vm_id", "sid", "id", "vm_sid", "vmid"],
    backend: ["backend", "backends"],
};
/** A gateway's reference to its VM: never its own `id` or `sid`. */
const GATEWAY_VM = ["vm_id", "vm_sid", "vm"];
const ROOTFS = ["rootfs_size", "rootfs", "root_size", "rootfs_mb", "rootfs_gb"];
const DATA_DISK = ["disk", "disk_size", "data_disk", "disk_mb", "disk_gb"];

const FIELD_SYNONYMS: Record<string, string[]> = {
    ...PARAM_SYNONYMS,
    id: ["id", "sid", "vm_id"],
    state: ["state", "status"],
    mycelium_ip: ["mycelium_ip", "mycelium", "mycelium_address", "myceliumip"],
    fqdn: ["fqdn", "domain"],
    vm_id: GATEWAY_VM,
};

/** Suggests a binding that fits `doc`, starting from `current` (what fits is kept). */
export function suggestBinding(current: Binding, doc: unknown, opts: { images?: string[] } = {}): Suggestion {
    const notes: string[] = [];
    const operations = {} as Record<OperationName, OperationBinding>;
    const methods = {} as Record<OperationName, LiveMethod | undefined>;
    for (const op of OPERATION_NAMES) {
        const cur = current.operations[op];
        const names = [...methodCandidates(cur.method, current.service), ...METHOD_SYNONYMS[op].flatMap((n) => [n, `${current.service}.${n}`])];
        const m = names.map((n) => liveMethod(doc, n)).find(Boolean);
        methods[op] = m;
        if (!m) {
            notes.push(`${op}: no live method looks like ${METHOD_SYNONYMS[op].join(", ")}; kept ${cur.method}: name the right one under operations.${op}.method`);
            operations[op] = cur;
            continue;
        }
        operations[op] = suggestOperation(op, cur, m.name, liveParamsOf(doc, m), notes);
    }
    const deployParams = methods.deployVm ? liveParamsOf(doc, methods.deployVm) : [];
    const gatewayParams = methods.deployGateway ? liveParamsOf(doc, methods.deployGateway) : [];
    const keys: Binding["keys"] = methods.deployVm ? ("ssh_keys" in (operations.deployVm.params ?? {}) ? "with" : "before") : current.keys;
    if (keys === "with") delete operations.injectKeys.params?.name; // the VM has an id by then; naming it twice is not needed
    if (keys === "before" && !("name" in (operations.injectKeys.params ?? {}))) {
        notes.push("deploy_vm takes no keys, so they go before it, but inject_ssh_keys takes no VM name: how the live service ties keys to a VM is unknown");
    }
    const backendParam = gatewayParams.find((p) => p.name === operations.deployGateway.params?.backend);
    const backends: Binding["backends"] = backendParam ? (backendParam.schema?.type === "array" || backendParam.name === "backends" ? "list" : "one") : current.backends;
    const binding: Binding = {
        ...(current.comment === undefined ? {} : { comment: current.comment }),
        service: current.service,
        keys,
        backends,
        sizeUnit: sizeUnitOf(deployParams.find((p) => p.name === operations.deployVm.params?.memory)) ?? current.sizeUnit,
        images: imagesFor(current, deployParams.find((p) => p.name === operations.deployVm.params?.flist), opts.images ?? [DEFAULT_FLIST], notes),
        operations,
        results: {
            Vm: suggestResult("Vm", current, doc, [methods.getVm, methods.listVms, methods.deployVm], notes),
            Gateway: suggestResult("Gateway", current, doc, [methods.getGateway, methods.listGateways, methods.deployGateway], notes),
        },
    };
    return { binding, notes };
}

function suggestOperation(op: OperationName, cur: OperationBinding, method: string, live: LiveParam[], notes: string[]): OperationBinding {
    const names = live.map((p) => p.name);
    const params: Record<string, string> = {};
    const taken = new Set<string>();
    const take = (ours: string, candidates: (string | undefined)[]) => {
        const found = candidates.find((c): c is string => c !== undefined && names.includes(c) && !taken.has(c));
        if (found) {
            params[ours] = found;
            taken.add(found);
        }
    };
    for (const ours of OPERATIONS[op].params) {
        if (ours === "disk") continue;
        const synonyms = op === "deployGateway" && ours === "vm_id" ? GATEWAY_VM : (PARAM_SYNONYMS[ours] ?? [ours]);
        take(ours, [cur.params?.[ours], ...synonyms]);
    }
    if (op === "deployVm") {
        // Our disk is the user's disk: the data disk when the service takes one besides the root filesystem, else the root filesystem.
        const data = DATA_DISK.find((n) => names.includes(n));
        take("disk", data ? [data] : [cur.params?.disk, ...ROOTFS]);
    }
    const constants: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(cur.constants ?? {})) {
        if (names.includes(name) && !taken.has(name)) constants[name] = value;
    }
    for (const p of live) {
        if (!p.required || taken.has(p.name) || p.name in constants) continue;
        const value = p.schema?.default ?? p.schema?.examples?.[0];
        if (value !== undefined) {
            constants[p.name] = value;
            notes.push(`${op}: ${p.name} is required and none of ours goes there; the suggestion sends the document's ${p.schema?.default !== undefined ? "default" : "example"} ${JSON.stringify(value)}: check it`);
        } else {
            notes.push(`${op}: ${p.name} is required and none of ours goes there: give it a value under operations.${op}.constants`);
        }
    }
    return Object.keys(constants).length > 0 ? { method, params, constants } : { method, params };
}

/** The unit the live memory param is described in, when it says. */
function sizeUnitOf(p: LiveParam | undefined): Binding["sizeUnit"] | undefined {
    const text = p ? [p.name, p.description, p.schema?.description].filter(Boolean).join(" ") : "";
    if (/\bGB\b|_gb\b|gigabyte/i.test(text)) return "GB";
    if (/\bMB\b|_mb\b|megabyte/i.test(text)) return "MB";
    return undefined;
}

/** Image names the live flist param accepts: URLs as they are, or the document's example for a name it would refuse. */
function imagesFor(current: Binding, p: LiveParam | undefined, images: string[], notes: string[]): Record<string, string> {
    if (!p) return current.images;
    if (p.schema?.format === "uri") return {};
    const pattern = typeof p.schema?.pattern === "string" ? safeRegExp(p.schema.pattern) : undefined;
    if (!pattern) return current.images;
    const out: Record<string, string> = {};
    for (const image of images) {
        const named = current.images[image];
        if (pattern.test(named ?? image)) {
            if (named) out[image] = named;
            continue;
        }
        const example = p.schema?.examples?.find((e): e is string => typeof e === "string" && pattern.test(e));
        if (example) {
            out[image] = example;
            notes.push(`images: the live ${p.name} takes names like ${JSON.stringify(example)}, not URLs; the suggestion names ${image} so: check it is the same image`);
        } else {
            notes.push(`images: the live ${p.name} must match ${p.schema?.pattern}; name ${image} under images`);
        }
    }
    return out;
}

function safeRegExp(pattern: string): RegExp | undefined {
    try {
        return new RegExp(pattern);
    } catch {
        return undefined;
    }
}

function suggestResult(kind: ResultKind, current: Binding, doc: unknown, from: (LiveMethod | undefined)[], notes: string[]): Record<string, string> {
    const props = from.map((m) => (m ? resultProperties(doc, m) : undefined)).find(Boolean);
    if (!props) return current.results[kind]; // not described: nothing better to say
    const out: Record<string, string> = {};
    const taken = new Set<string>();
    for (const ours of RESULTS[kind].fields) {
        const found = [current.results[kind][ours], ...(FIELD_SYNONYMS[ours] ?? [ours])].find((c) => c !== undefined && props.includes(c) && !taken.has(c));
        if (found) {
            out[ours] = found;
            taken.add(found);
        } else if ((RESULTS[kind].required as readonly string[]).includes(ours)) {
            out[ours] = current.results[kind][ours] ?? ours;
            notes.push(`results.${kind}: no live field looks like our ${ours}; kept ${out[ours]}: name the right one`);
        }
    }
    return out;
}
