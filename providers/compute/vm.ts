/**
 * A user's VM on the ThreeFold Grid, deployed through Hero Compute.
 *
 * `create` finds its own VM by deterministic name before deploying (so a retry
 * after a crash adopts instead of deploying a second one). A name is no proof:
 * a VM of our name is adopted (or, when failed, deleted) only when it carries
 * this user's deployer key, which is in state before the VM is created; any
 * other VM of that name is refused and left alone. The same proof is asked on
 * every path: a leftover found before deploying, a VM found after deploy_vm's
 * answer was lost or said "name exists", and the recorded VM on refresh, key
 * injection and delete (when the service reports keys). Create then waits with a deadline
 * until the VM has a mycelium IP, and deletes what it deployed when it times out.
 * A change of size, node, flist or name replaces the VM, deleting first: a user has
 * one VM. New SSH keys are added in place with `inject_ssh_keys`; removing a key replaces.
 * Every call goes through the binding (binding.json, read by bind.ts): which live method, params and
 * fields, and whether the keys are registered before the deploy or sent with it.
 */
import * as pulumi from "@pulumi/pulumi";
import { SHIMS } from "../shims";
import { type Binding, type Compute, computeFrom, DEFAULT_FLIST, loadBinding } from "./bind";
import * as rpc from "./client";
import { nextSighting } from "./poller";
import { CPU, DISK_GB, gridNameProblem, MEMORY_GB, NODE_ID, rangeProblem } from "../../users/limits";
import { sshKeyProblem } from "../../users/ssh-key";
import { carriesKey, keyBlob } from "../ownership";

export { DEFAULT_FLIST };

export interface HeroVmArgs {
    /** Deterministic grid name (`gridName(prefix, username)`), `^[a-z0-9]{3,36}$`. @example "devalice" */
    name: pulumi.Input<string>;
    /** The user it is for; used in messages and progress lines. @example "alice" */
    username: pulumi.Input<string>;
    /** Memory in MB. @example 8192 */
    memoryMb: pulumi.Input<number>;
    /** Virtual CPUs, 1 to 32. @example 4 */
    cpu: pulumi.Input<number>;
    /** Root filesystem in GB (sent as MB). @example 50 */
    diskGb: pulumi.Input<number>;
    /** Grid node to pin the VM to; the service picks one when absent. */
    node?: pulumi.Input<number>;
    /** The deployer's key first (`tls.PrivateKey.publicKeyOpenssh`), then the person's own keys. */
    sshKeys: pulumi.Input<pulumi.Input<string>[]>;
    /** The image. Mycelium is always on and public IPs off. @default DEFAULT_FLIST */
    flist?: pulumi.Input<string>;
}

/** What the provider receives, after `check`. */
export interface VmInputs {
    name: string;
    username: string;
    memoryMb: number;
    cpu: number;
    diskGb: number;
    node?: number;
    sshKeys: string[];
    flist: string;
}

export interface VmOutputs extends VmInputs {
    /** Per daemon: records key on (computeEndpoint, vmId). */
    vmId: string;
    computeEndpoint: string;
    nodeId: number | null;
    myceliumIp: string | null;
    state: string;
}

type Provider = pulumi.dynamic.ResourceProvider & Partial<rpc.ComputeSettings> & { binding?: Binding };

export const vmProvider: Provider = {
    async configure(req: pulumi.dynamic.ConfigureRequest) {
        const settings = rpc.settingsFrom(req.config);
        Object.assign(this, settings, { binding: loadBinding(settings.bindingFile) });
    },

    async check(_olds: unknown, news: Record<string, unknown>) {
        return checkVm(news);
    },

    async diff(_id: string, olds: VmOutputs, news: VmInputs) {
        return diffVm(olds, news);
    },

    async create(inputs: VmInputs) {
        const c = computeFrom(this);
        const endpoint = rpc.canonicalEndpoint(c.conn.url);
        const user = inputs.username;
        // computeConcurrency caps the changing calls (deploy, key injection, delete), not the readiness wait.
        const slot = <T>(fn: () => Promise<T>) => rpc.withSlot(this.concurrency ?? 3, fn);
        const found = await adoptable(c, inputs, endpoint, slot);
        if (found) {
            // The leftover may predate a new deployer key: make sure every key is on it (adding keeps the rest).
            await slot(() => c.injectKeys({ vm_id: found.id, name: found.name }, inputs.sshKeys, user));
        }
        const deployed = found ?? (await slot(() => deployVm(c, inputs, endpoint)));
        const vm = await waitReady(c, inputs, deployed, { timeoutMs: this.readyTimeoutMs ?? 15 * 60_000, pollMs: this.pollMs ?? 10_000, progressMs: this.progressMs ?? 30_000, slot });
        rpc.progress(`${user}: VM ${vm.id} on node ${vm.node_id ?? "?"} ready at ${vm.mycelium_ip}`);
        return { id: `${endpoint}#${vm.id}`, outs: outsOf(inputs, vm, endpoint) };
    },

    async read(id: string, props: VmOutputs) {
        const c = computeFrom(this);
        guardEndpoint(c.conn, props, "refresh");
        const vm = await ourVm(c, props, "refresh");
        if (!vm) {
            rpc.progress(`${props.username}: VM ${props.vmId} (${props.name}) is gone from ${props.computeEndpoint}`);
            return { id: "", props: {} };
        }
        return { id, props: outsOf(props, vm, props.computeEndpoint) };
    },

    async update(_id: string, olds: VmOutputs, news: VmInputs) {
        const c = computeFrom(this);
        guardEndpoint(c.conn, olds, "update");
        const added = news.sshKeys.filter((k) => !olds.sshKeys.includes(k));
        if (added.length > 0) {
            if (!(await ourVm(c, olds, "add keys to"))) {
                throw new Error(`${news.username}: VM ${olds.vmId} (${olds.name}) is gone or no longer this stack's; no key was added. Run pulumi refresh, then pulumi up.`);
            }
            await rpc.withSlot(this.concurrency ?? 3, () => c.injectKeys({ vm_id: olds.vmId, name: olds.name }, added, news.username));
        }
        return { outs: { ...olds, ...news } };
    },

    async delete(_id: string, props: VmOutputs) {
        const c = computeFrom(this);
        guardEndpoint(c.conn, props, "delete");
        const vm = await ourVm(c, props, "delete");
        if (vm) {
            await rpc.withSlot(this.concurrency ?? 3, () => deleteVm(c, vm.id, props.username));
        }
    },
};

/** The VM resource: type `pulumi-nodejs:dynamic/hero:Vm`. */
export class HeroVm extends pulumi.dynamic.Resource {
    declare readonly vmId: pulumi.Output<string>;
    declare readonly computeEndpoint: pulumi.Output<string>;
    declare readonly nodeId: pulumi.Output<number | null>;
    declare readonly myceliumIp: pulumi.Output<string>;
    declare readonly state: pulumi.Output<string>;

    constructor(name: string, args: HeroVmArgs, opts?: pulumi.CustomResourceOptions) {
        const props = { flist: DEFAULT_FLIST, ...args, vmId: undefined, computeEndpoint: undefined, nodeId: undefined, myceliumIp: undefined, state: undefined };
        super(SHIMS.vm, name, props, opts, "hero", "Vm");
    }
}

/** Validates and normalises inputs: no network. Keys are trimmed and de-duplicated, order kept. */
export function checkVm(news: Record<string, unknown>): { inputs: Record<string, unknown>; failures: pulumi.dynamic.CheckFailure[] } {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    const unknown = (v: unknown) => v === "04da6b54-80e4-46f7-96ec-b56ff0331ba9"; // pulumi's unknown value, seen in previews
    // A value still unknown in a preview is checked at `up`, when it is known.
    const fail = (property: string, reason: string) => unknown(news[property]) || failures.push({ property, reason });
    // The users file checks these with the same limits and messages (users/limits.ts, users/ssh-key.ts).
    const name = gridNameProblem(news.name);
    if (name) fail("name", name);
    if (typeof news.username !== "string" || news.username === "") fail("username", "must be a non-empty string");
    const memoryMb = news.memoryMb;
    const memory = typeof memoryMb === "number" && !Number.isInteger(memoryMb) ? `${memoryMb} MB is not a whole number of MB` : rangeProblem(MEMORY_GB, typeof memoryMb === "number" ? memoryMb / 1024 : memoryMb);
    if (memory) fail("memoryMb", memory);
    const cpu = rangeProblem(CPU, news.cpu);
    if (cpu) fail("cpu", cpu);
    const disk = rangeProblem(DISK_GB, news.diskGb);
    if (disk) fail("diskGb", disk);
    const node = news.node === undefined || news.node === null ? undefined : rangeProblem(NODE_ID, news.node);
    if (node) fail("node", node);
    const flist = news.flist ?? DEFAULT_FLIST;
    if (typeof flist !== "string" || !/^https:\/\/\S+\.flist$/.test(flist)) fail("flist", `must be an https URL ending in .flist, not ${JSON.stringify(flist)}`);
    let sshKeys: unknown = news.sshKeys;
    if (!Array.isArray(news.sshKeys) || news.sshKeys.length === 0) {
        fail("sshKeys", "must list at least the deployer's public key");
    } else {
        const keys = [...new Set(news.sshKeys.map((k) => (typeof k === "string" ? k.trim() : k)))];
        sshKeys = keys;
        for (const k of keys) {
            const problem = unknown(k) ? undefined : sshKeyProblem(k);
            if (problem) fail("sshKeys", problem);
        }
    }
    const inputs: Record<string, unknown> = { ...news, flist, sshKeys };
    if (news.node === null) delete inputs.node;
    return { inputs, failures };
}

/** Decides update or replace: no network. */
export function diffVm(olds: VmOutputs, news: VmInputs): pulumi.dynamic.DiffResult {
    const replaces = (["name", "memoryMb", "cpu", "diskGb", "node", "flist"] as const).filter((k) => olds[k] !== news[k]);
    const keys: string[] = Array.isArray(news.sshKeys) ? news.sshKeys : []; // not an array: unknown in a preview
    const removedKey = !Array.isArray(news.sshKeys) || olds.sshKeys.some((k) => !keys.includes(k));
    if (removedKey) replaces.push("sshKeys" as never);
    const addedKey = keys.some((k) => !olds.sshKeys.includes(k));
    const changes = replaces.length > 0 || addedKey || olds.username !== news.username;
    return { changes, replaces, deleteBeforeReplace: replaces.length > 0 };
}

function outsOf(inputs: VmInputs, vm: rpc.Vm, endpoint: string): VmOutputs {
    return {
        ...inputs,
        vmId: vm.id,
        computeEndpoint: endpoint,
        nodeId: vm.node_id ?? null,
        myceliumIp: vm.mycelium_ip ?? null,
        state: vm.state,
    };
}

/** Refuses to act on a VM recorded on another daemon: ids collide across daemons. */
function guardEndpoint(conn: rpc.Conn, props: VmOutputs, what: string): void {
    const now = rpc.canonicalEndpoint(conn.url);
    if (props.computeEndpoint !== now) {
        throw new Error(
            `${props.username}: cannot ${what} VM ${props.vmId} (${props.name}): it lives on ${props.computeEndpoint}, ` +
                `but computeUrl is now ${now}, where that id may be someone else's VM. Set computeUrl back to run this step.`,
        );
    }
}

/**
 * Our VM by id, or undefined when it is gone, or the id now names another VM, or the VM
 * no longer carries this user's deployer key (when the service reports keys): then it is
 * not ours to read, change or delete, and a warning says so.
 */
async function ourVm(c: Compute, props: VmOutputs, what: string): Promise<rpc.Vm | undefined> {
    let vm: rpc.Vm;
    try {
        vm = await c.getVm(props.vmId, props.username);
    } catch (err) {
        if (rpc.isRpcCode(err, rpc.ERRORS.NotFound)) return undefined;
        throw err;
    }
    if (vm.name !== props.name) return undefined;
    if (vm.ssh_keys !== undefined && !carriesKey(vm.ssh_keys, props.sshKeys[0])) {
        rpc.progress(
            `${props.username}: warning: not going to ${what} VM ${vm.id} (${vm.name}): it no longer carries this user's deployer key ` +
                `${keyBlob(props.sshKeys[0]).slice(0, 40)}…, so nothing proves it is this stack's; it was left alone (check it with \`npm run audit\`)`,
        );
        return undefined;
    }
    return vm;
}

/** Why a VM of our name is not proven ours, or undefined when it carries this user's deployer key. */
function notProven(vm: rpc.Vm, deployerKey: string): string | undefined {
    if (carriesKey(vm.ssh_keys, deployerKey)) return undefined;
    return vm.ssh_keys === undefined ? "Hero Compute does not report its keys" : `its keys (${vm.ssh_keys.length}) do not include this user's deployer key ${keyBlob(deployerKey).slice(0, 40)}…`;
}

/** The error for a VM of our name that nothing proves ours: it is left alone. */
function refusal(vm: rpc.Vm, inputs: VmInputs, endpoint: string, why: string, when: string): Error {
    return new Error(
        `${inputs.username}: a VM named ${vm.name} (id ${vm.id}, state ${vm.state}) ${when} on ${endpoint}, but nothing proves it belongs to this deployment: ` +
            `${why}. It was left alone. It may be another stack's VM (set a different namePrefix for this stack), ` +
            `or a leftover of this stack from before its deployer key changed: check with \`npm run audit\`, delete it on Hero Compute if it is yours, and run pulumi up again.`,
    );
}

async function findByName(c: Compute, name: string, user: string): Promise<rpc.Vm | undefined> {
    return (await c.listVms(user)).find((v) => v.name === name);
}

/**
 * A leftover VM of ours to adopt: it has our name AND carries this user's deployer key
 * (the first of `sshKeys`, generated for this deployment). A failed leftover of ours is
 * deleted; any other VM of that name is refused, and nothing is done to it.
 */
async function adoptable(c: Compute, inputs: VmInputs, endpoint: string, slot: Slot): Promise<rpc.Vm | undefined> {
    const vm = await findByName(c, inputs.name, inputs.username);
    if (!vm) return undefined;
    const why = notProven(vm, inputs.sshKeys[0]);
    if (why) throw refusal(vm, inputs, endpoint, why, "already exists");
    if (vm.state === "failed") {
        rpc.progress(`${inputs.username}: deleting failed VM ${vm.id} (${vm.name}) left by an earlier attempt`);
        await slot(() => deleteVm(c, vm.id, inputs.username));
        return undefined;
    }
    const differs = (vm.memory !== undefined && vm.memory !== inputs.memoryMb) || (vm.cpu !== undefined && vm.cpu !== inputs.cpu);
    if (differs) {
        throw new Error(
            `${inputs.username}: a VM named ${vm.name} (id ${vm.id}, ${vm.memory} MB, ${vm.cpu} cpu) already exists on ${endpoint} ` +
                `and does not match this deployment (${inputs.memoryMb} MB, ${inputs.cpu} cpu). It was left alone. ` +
                `Delete it on Hero Compute if it is a stale leftover, or choose another namePrefix.`,
        );
    }
    rpc.progress(`${inputs.username}: adopting VM ${vm.id} (${vm.name}), left by an earlier attempt`);
    return vm;
}

/**
 * Deploys without blind retries: after a transport error or transient answer the
 * outcome is unknown, so look the name up again and adopt what is there; deploy
 * again only when nothing is. When the binding registers keys first, every
 * attempt registers them (by name) just before it: adding keys is idempotent.
 */
async function deployVm(c: Compute, inputs: VmInputs, endpoint: string): Promise<rpc.Vm> {
    // Our names and units (MB); the binding renames, converts and drops what the live deploy_vm does not take.
    const params: Record<string, unknown> = {
        name: inputs.name,
        flist: inputs.flist,
        cpu: inputs.cpu,
        memory: inputs.memoryMb,
        disk: inputs.diskGb * 1024,
        mycelium: true,
        public_ip: false,
        ssh_keys: inputs.sshKeys,
        node_id: inputs.node,
    };
    for (let attempt = 1; ; attempt++) {
        try {
            if (c.keysFirst) await c.injectKeys({ name: inputs.name }, inputs.sshKeys, inputs.username);
            const vm = await c.deployVm(params, inputs.username);
            rpc.progress(`${inputs.username}: VM ${vm.id} deploying on node ${vm.node_id ?? "?"}`);
            return vm;
        } catch (err) {
            const unsure = (err as rpc.RpcError).transient || rpc.isRpcCode(err, rpc.ERRORS.NameExists);
            if (!unsure) throw err;
            const vm = await findByName(c, inputs.name, inputs.username);
            if (vm) {
                // The name alone proves nothing: another stack's deploy may have landed in between.
                const why = notProven(vm, inputs.sshKeys[0]);
                if (why) throw refusal(vm, inputs, endpoint, why, "appeared while deploy_vm's answer was in doubt");
                rpc.progress(`${inputs.username}: deploy_vm's answer was lost; adopting VM ${vm.id} (${vm.name}), which carries this user's deployer key`);
                return vm;
            }
            if (attempt >= 3) throw err;
        }
    }
}

/** Runs a changing call holding one of the `computeConcurrency` slots. */
type Slot = <T>(fn: () => Promise<T>) => Promise<T>;

interface WaitOptions {
    timeoutMs: number;
    pollMs: number;
    progressMs: number;
    /** Holds a slot for the clean-up delete. */
    slot: Slot;
}

/**
 * Waits, holding no slot, until the VM has a mycelium IP: each poll round is one
 * `list_vms` shared by every VM this host waits for (providers/compute/poller.ts).
 * On failure or deadline it deletes the VM and throws why.
 */
async function waitReady(c: Compute, inputs: VmInputs, first: rpc.Vm, o: WaitOptions): Promise<rpc.Vm> {
    const user = inputs.username;
    const started = Date.now();
    const deadline = started + o.timeoutMs;
    let vm = first;
    let lastLog = started;
    for (;;) {
        if (vm.mycelium_ip) return vm;
        let reason: string | undefined;
        if (vm.state === "failed") reason = `Hero Compute reports the deployment failed on node ${vm.node_id ?? "?"}`;
        else if (Date.now() >= deadline) reason = `no mycelium IP within ${rpc.elapsed(started)} (vmReadyTimeoutMinutes); last state ${vm.state} on node ${vm.node_id ?? "?"}`;
        if (reason) {
            let cleanup = "it was deleted";
            try {
                await o.slot(() => deleteVm(c, vm.id, user));
            } catch (err) {
                cleanup = `deleting it failed too (${(err as Error).message}): delete VM ${vm.id} on Hero Compute by hand`;
            }
            throw new Error(
                `${user}: VM ${vm.id} (${vm.name}) did not become ready: ${reason}; ${cleanup}. ` +
                    `Run pulumi up again, or pin another node (vm.node in the users file) or raise vmReadyTimeoutMinutes if it keeps happening.`,
            );
        }
        if (Date.now() - lastLog >= o.progressMs) {
            rpc.progress(`${user}: waiting for VM ${vm.id} on node ${vm.node_id ?? "?"} to get its mycelium address: ${vm.state} (${rpc.elapsed(started)})`);
            lastLog = Date.now();
        }
        const seen = await nextSighting(c, first.id, o.pollMs, deadline, user);
        if (seen === undefined) throw new Error(`${user}: VM ${first.id} (${first.name}) vanished from Hero Compute while deploying.`);
        if (seen !== "timeout") vm = seen;
    }
}

async function deleteVm(c: Compute, vmId: string, user: string): Promise<void> {
    try {
        await c.deleteVm(vmId, user);
    } catch (err) {
        if (!rpc.isRpcCode(err, rpc.ERRORS.NotFound)) throw err;
    }
}
