/**
 * What the preflight guesses from a live document alone, each guess with its
 * evidence: the service's method prefix (from the method names), which live
 * method is which of our operations (by synonyms, then by the words in its
 * name), which documented error means "not found", "name taken" and "name
 * exists" (by its name and message), and how the service's state words map
 * onto ours (by synonyms; a word it cannot place is said so). Pure.
 */
import type { OperationName } from "./bind";
import { type LiveError, type LiveMethod, liveMethods } from "./document";
import { type ErrorKind, GATEWAY_STATES, VM_STATES } from "./wire";

/** The prefix most of the document's methods share (`ComputeService` of `ComputeService.deploy_vm`), `rpc.` left out; undefined when they have none. */
export function detectPrefix(doc: unknown): { prefix: string; evidence: string } | undefined {
    const names = liveMethods(doc).map((m) => m.name).filter((n) => !n.startsWith("rpc."));
    const counts = new Map<string, number>();
    for (const n of names) if (n.includes(".")) counts.set(n.slice(0, n.lastIndexOf(".")), (counts.get(n.slice(0, n.lastIndexOf("."))) ?? 0) + 1);
    const [best] = [...counts.entries()].sort((a, b) => b[1] - a[1]);
    if (!best || best[1] * 2 < names.length) return undefined;
    return { prefix: best[0], evidence: `${best[1]} of the document's ${names.length} methods start with ${best[0]}.` };
}

export const METHOD_SYNONYMS: Record<OperationName, string[]> = {
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

const VM_NOUNS = ["vm", "vms", "machine", "machines", "workload", "workloads"];
const GATEWAY_NOUNS = ["gateway", "gateways", "webgateway", "webgateways", "gw", "proxy"];
const KEY_WORDS = ["key", "keys", "ssh", "sshkeys", "ssh_keys"];
const VERBS: Record<"deploy" | "get" | "list" | "delete" | "inject", string[]> = {
    deploy: ["deploy", "create", "new", "provision", "add", "launch"],
    get: ["get", "info", "show", "describe", "read", "inspect", "status", "find"],
    list: ["list", "all", "ls"],
    delete: ["delete", "remove", "destroy", "undeploy", "drop", "rm", "cancel", "decommission"],
    inject: ["inject", "add", "set", "push", "authorize", "update"],
};
const OP_WORDS: Record<OperationName, { nouns: string[]; verb: keyof typeof VERBS }> = {
    deployVm: { nouns: VM_NOUNS, verb: "deploy" },
    getVm: { nouns: VM_NOUNS, verb: "get" },
    listVms: { nouns: VM_NOUNS, verb: "list" },
    deleteVm: { nouns: VM_NOUNS, verb: "delete" },
    injectKeys: { nouns: KEY_WORDS, verb: "inject" },
    deployGateway: { nouns: GATEWAY_NOUNS, verb: "deploy" },
    getGateway: { nouns: GATEWAY_NOUNS, verb: "get" },
    listGateways: { nouns: GATEWAY_NOUNS, verb: "list" },
    deleteGateway: { nouns: GATEWAY_NOUNS, verb: "delete" },
};

/** The live method that is our operation, by its words (`compute.vm_info` is getVm): a verb and a noun of the operation, and no key words unless it is injectKeys. */
export function methodByWords(doc: unknown, op: OperationName, taken: Set<string>): LiveMethod | undefined {
    const { nouns, verb } = OP_WORDS[op];
    return liveMethods(doc).find((m) => {
        if (m.name.startsWith("rpc.") || taken.has(m.name)) return false;
        const words = m.name.slice(m.name.lastIndexOf(".") + 1).toLowerCase().split(/[_\-]|(?=[A-Z])/);
        const hasKeys = words.some((w) => KEY_WORDS.includes(w));
        if (op !== "injectKeys" && hasKeys) return false;
        const noun = words.some((w) => nouns.includes(w));
        const plainList = verb === "list" && words.length === 1 && nouns.includes(words[0]) && words[0].endsWith("s");
        return plainList || (noun && words.some((w) => VERBS[verb].includes(w)));
    });
}

const ERROR_WORDS: Record<ErrorKind, RegExp> = {
    notFound: /not[ _-]?found|no such|does not exist|doesn't exist|unknown (vm|workload|gateway)/i,
    nameTaken: /taken|reserved|in use|owned by|another owner|someone else/i,
    nameExists: /already exists|exists already|duplicate|conflict/i,
};

/** The documented error for each of our kinds, by its name and message; one error is given to one kind only, in the order not found, name taken, name exists. */
export function classifyErrors(errors: LiveError[]): Partial<Record<ErrorKind, LiveError>> {
    const out: Partial<Record<ErrorKind, LiveError>> = {};
    const used = new Set<LiveError>();
    for (const kind of ["notFound", "nameTaken", "nameExists"] as ErrorKind[]) {
        const e = errors.find((x) => !used.has(x) && ERROR_WORDS[kind].test(`${x.name ?? ""} ${x.name?.replace(/([a-z])([A-Z])/g, "$1 $2") ?? ""} ${x.message}`));
        if (e) {
            out[kind] = e;
            used.add(e);
        }
    }
    return out;
}

const STATE_SYNONYMS: Record<string, string[]> = {
    deploying: ["deploying", "pending", "provisioning", "creating", "starting", "init", "initializing", "queued", "building", "booting", "scheduled"],
    running: ["running", "up", "active", "ready", "ok", "started", "healthy", "deployed", "online"],
    ready: ["ready", "active", "up", "ok", "running", "deployed", "online", "healthy"],
    stopped: ["stopped", "halted", "paused", "down", "off", "shutdown", "suspended", "offline"],
    failed: ["failed", "error", "errored", "failure", "broken", "crashed", "fault", "faulted"],
};

/** A value map for the document's state words, those it could not place listed apart. */
export function proposeStates(kind: "Vm" | "Gateway", words: string[]): { map: Record<string, string>; unplaced: string[] } {
    const ours: readonly string[] = kind === "Vm" ? VM_STATES : GATEWAY_STATES;
    const map: Record<string, string> = {};
    const unplaced: string[] = [];
    for (const w of words) {
        const lower = w.toLowerCase();
        const found = ours.find((o) => STATE_SYNONYMS[o].includes(lower));
        if (found) map[w] = found;
        else unplaced.push(w);
    }
    return { map, unplaced };
}
