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
import { SHIMS, replaceDeletesFirst } from "../shims";
import { type Binding, type Compute, computeFrom, DEFAULT_FLIST, loadBinding } from "./bind";
import * as rpc from "./client";
import { adoptable, deleteVm, deployVm, ourVm, waitReady } from "./vm-deploy";
import { CPU, DISK_GB, gridNameProblem, MEMORY_GB, NODE_ID, rangeProblem } from "../../users/limits";
import { sshKeyProblem } from "../../users/ssh-key";

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
        // Keys that travel only with the deploy cannot be added to a running VM: an added key replaces it.
        return diffVm(olds, news, { keysInPlace: this.binding?.keys !== "only-with" });
    },

    async create(inputs: VmInputs) {
        const c = computeFrom(this);
        const endpoint = rpc.canonicalEndpoint(c.conn.url);
        const user = inputs.username;
        // computeConcurrency caps the changing calls (deploy, key injection, delete), not the readiness wait.
        const slot = <T>(fn: () => Promise<T>) => rpc.withSlot(this.concurrency ?? 3, fn);
        const found = await adoptable(c, inputs, endpoint, slot);
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
            if (!c.keysInPlace) {
                throw new Error(`${news.username}: keys travel only with the deploy (the binding's keys are "only-with"), so VM ${olds.vmId} (${olds.name}) cannot take ${added.length} new key(s) in place; nothing was changed. Run pulumi up again: its preview replaces the VM.`);
            }
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
        super(SHIMS.vm, name, props, replaceDeletesFirst(opts), "hero", "Vm");
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

/** Decides update or replace: no network. An added key is an update in place, unless keys travel only with the deploy. */
export function diffVm(olds: VmOutputs, news: VmInputs, opts: { keysInPlace?: boolean } = {}): pulumi.dynamic.DiffResult {
    const replaces = (["name", "memoryMb", "cpu", "diskGb", "node", "flist"] as const).filter((k) => olds[k] !== news[k]);
    const keys: string[] = Array.isArray(news.sshKeys) ? news.sshKeys : []; // not an array: unknown in a preview
    const removedKey = !Array.isArray(news.sshKeys) || olds.sshKeys.some((k) => !keys.includes(k));
    if (removedKey) replaces.push("sshKeys" as never);
    const addedKey = keys.some((k) => !olds.sshKeys.includes(k));
    if (addedKey && opts.keysInPlace === false && !removedKey) replaces.push("sshKeys" as never);
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
