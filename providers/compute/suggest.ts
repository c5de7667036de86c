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
import { detectPrefix, METHOD_SYNONYMS, methodByWords } from "./guess";
import { suggestErrors, suggestStates, suggestTypes } from "./suggest-values";

export interface Suggestion {
    binding: Binding;
    /** What the suggestion could not settle from the document, for the admin to check. */
    notes: string[];
}

const PARAM_SYNONYMS: Record<string, string[]> = {
    name: ["name", "vm_name", "workload_name"],
    flist: ["flist", "image", "flist_url"],
    cpu: ["cpu", "cpus", "vcpu", "vcpus", "cores"],
    memory: ["memory", "memory_mb", "memory_gb", "mem", "ram"],
    mycelium: ["mycelium", "mycelium_enabled", "enable_mycelium"],
    public_ip: ["public_ip", "publicip", "public_ipv4"],
    ssh_keys: ["ssh_keys", "keys", "ssh_key", "public_keys", "sshkeys", "authorized_keys", "pubkeys"],
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
    state: ["state", "status", "phase"],
    error: ["error", "reason", "message", "failure", "error_message", "status_message"],
    mycelium_ip: ["mycelium_ip", "mycelium", "mycelium_address", "myceliumip"],
    fqdn: ["fqdn", "domain"],
    vm_id: GATEWAY_VM,
};

/** Suggests a binding that fits `doc`, starting from `current` (what fits is kept). Every guess is in `notes`, with the document's evidence. */
export function suggestBinding(current: Binding, doc: unknown, opts: { images?: string[] } = {}): Suggestion {
    const notes: string[] = [];
    const detected = detectPrefix(doc);
    // Methods without a prefix keep the binding's: bare names are tried with it too.
    const service = detected?.prefix ?? current.service;
    if (detected && detected.prefix !== current.service) notes.push(`guess: service "${detected.prefix}": ${detected.evidence}`);
    const operations = {} as Record<OperationName, OperationBinding>;
    const methods = {} as Record<OperationName, LiveMethod | undefined>;
    const taken = new Set<string>();
    for (const op of OPERATION_NAMES) {
        const cur = current.operations[op] as OperationBinding | undefined;
        const names = [...(cur ? [...methodCandidates(cur.method, current.service), ...methodCandidates(cur.method, service)] : []), ...METHOD_SYNONYMS[op].flatMap((n) => methodCandidates(n, service))];
        let m = names.map((n) => liveMethod(doc, n)).find((x) => x && !taken.has(x.name));
        if (!m) {
            m = methodByWords(doc, op, taken);
            if (m) notes.push(`guess: ${op} is ${m.name}, by the words in its name`);
        }
        methods[op] = m;
        if (m) taken.add(m.name);
        if (!m) {
            if (op !== "injectKeys") notes.push(`${op}: no live method looks like ${METHOD_SYNONYMS[op].join(", ")}${cur ? `; kept ${cur.method}` : ""}: name the right one under operations.${op}.method`);
            if (cur) operations[op] = cur;
            continue;
        }
        operations[op] = suggestOperation(op, cur ?? { method: m.name }, m.name, liveParamsOf(doc, m), notes);
    }
    const deployParams = methods.deployVm ? liveParamsOf(doc, methods.deployVm) : [];
    const gatewayParams = methods.deployGateway ? liveParamsOf(doc, methods.deployGateway) : [];
    const keys = keysOf(current, methods, operations, notes);
    const backendParam = gatewayParams.find((p) => p.name === operations.deployGateway?.params?.backend);
    const backends: Binding["backends"] = backendParam ? (backendParam.schema?.type === "array" || backendParam.name === "backends" ? "list" : "one") : current.backends;
    const { comment, service: _s, keys: _k, backends: _b, sizeUnit: _u, images: _i, operations: _o, results: _r, states: _st, errors: _e, ...rest } = current;
    const binding: Binding = {
        ...(comment === undefined ? {} : { comment }),
        service,
        keys,
        backends,
        sizeUnit: sizeUnitOf(deployParams.find((p) => p.name === operations.deployVm?.params?.memory)) ?? current.sizeUnit,
        images: imagesFor(current, deployParams.find((p) => p.name === operations.deployVm?.params?.flist), opts.images ?? [DEFAULT_FLIST], notes),
        operations,
        results: {
            Vm: suggestResult("Vm", current, doc, [methods.getVm, methods.listVms, methods.deployVm], notes),
            Gateway: suggestResult("Gateway", current, doc, [methods.getGateway, methods.listGateways, methods.deployGateway], notes),
        },
        ...rest,
    };
    const states = suggestStates(current, doc, binding, methods, notes);
    if (states) binding.states = states;
    const errors = suggestErrors(current, doc, notes);
    if (errors) binding.errors = errors;
    suggestTypes(doc, binding, methods, notes);
    return { binding: ordered(binding), notes };
}

/** The binding's keys in the order its file is written. */
function ordered(b: Binding): Binding {
    const order = ["comment", "service", "keys", "backends", "sizeUnit", "images", "auth", "operations", "results", "states", "errors"];
    return Object.fromEntries(order.filter((k) => (b as unknown as Record<string, unknown>)[k] !== undefined).map((k) => [k, (b as unknown as Record<string, unknown>)[k]])) as unknown as Binding;
}

/** Where the keys go, from what the document offers: a key-injection method or not, a keys param on the deploy or not. */
function keysOf(current: Binding, methods: Record<OperationName, LiveMethod | undefined>, operations: Record<OperationName, OperationBinding>, notes: string[]): Binding["keys"] {
    if (!methods.deployVm) return current.keys;
    const deploy = methods.deployVm.name;
    const withDeploy = "ssh_keys" in (operations.deployVm.params ?? {});
    const drop = () => delete (operations as Partial<typeof operations>).injectKeys;
    if (!methods.injectKeys) {
        drop();
        if (withDeploy) {
            notes.push(`guess: keys "only-with": the document has no key-injection method, and ${deploy} takes the keys (${operations.deployVm.params!.ssh_keys}); a key change then replaces the VM`);
            return "only-with";
        }
        notes.push(`${deploy} takes no keys and the document has no key-injection method: how keys reach a VM is unknown`);
        return current.keys;
    }
    const inject = operations.injectKeys.params ?? {};
    if (!withDeploy) {
        if (!("name" in inject)) notes.push(`${deploy} takes no keys, so they go before it, but ${methods.injectKeys.name} takes no VM name: how the live service ties keys to a VM is unknown`);
        return "before";
    }
    if ("vm_id" in inject) {
        delete inject.name; // the VM has an id by then; naming it twice is not needed
        return "with";
    }
    if ("name" in inject) return "with";
    drop();
    notes.push(`guess: keys "only-with": ${methods.injectKeys.name} names no VM (neither by id nor by name), so it cannot add keys to one; keys travel with ${deploy} only`);
    return "only-with";
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
        const synonyms = op === "deployGateway" && ours === "vm_id" ? GATEWAY_VM : op === "deployGateway" && ours === "node_id" ? [...PARAM_SYNONYMS.node_id, "gateway_node", "gateway_node_id", "gw_node"] : (PARAM_SYNONYMS[ours] ?? [ours]);
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
            notes.push(`guess: ${op}: ${p.name} is required and none of ours goes there; the suggestion sends the document's ${p.schema?.default !== undefined ? "default" : "example"} ${JSON.stringify(value)}: check it`);
        } else {
            notes.push(`${op}: ${p.name} is required and none of ours goes there, and the document gives no default or example: give it a value under operations.${op}.constants`);
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
