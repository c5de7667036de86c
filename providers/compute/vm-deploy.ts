/**
 * How a VM is found, proven ours, deployed, waited for and deleted: the steps
 * behind the VM provider (vm.ts). A name is no proof: a VM of our name is
 * adopted (or, when failed, deleted) only when it carries this user's deployer
 * key. What "not found", "name exists", a failed state and the keys mean comes
 * from the binding (bind.ts), never from constants here.
 */
import type { Compute } from "./bind";
import * as rpc from "./client";
import { nextSighting } from "./poller";
import { carriesKey, keyBlob } from "../ownership";
import type { VmInputs, VmOutputs } from "./vm";

/** Runs a changing call holding one of the `computeConcurrency` slots. */
export type Slot = <T>(fn: () => Promise<T>) => Promise<T>;

/** `running`, or `unknown ("migrating")` for a state the binding's value map does not know. */
export function stateOf(vm: Pick<rpc.Vm, "state" | "stateWord">): string {
    return vm.state === "unknown" ? `unknown ("${vm.stateWord}")` : vm.state;
}

/** Why a state stops everything: the binding's value map does not know it. */
function unknownState(vm: rpc.Vm, c: Compute): string {
    const map = c.binding.states?.Vm;
    const where = c.binding.file ? `the binding ${c.binding.file}` : "the binding";
    return `Hero Compute reports state "${vm.stateWord}", which ${where} does not map (states.Vm${map ? ` knows ${Object.keys(map).join(", ")}` : " is not set: only deploying, running, stopped, failed are known"}): add "${vm.stateWord}" under states.Vm, mapped to one of deploying, running, stopped, failed`;
}

/**
 * Our VM by id, or undefined when it is gone, or the id now names another VM, or the VM
 * no longer carries this user's deployer key (when the service reports keys): then it is
 * not ours to read, change or delete, and a warning says so.
 */
export async function ourVm(c: Compute, props: Pick<VmOutputs, "vmId" | "name" | "username" | "sshKeys">, what: string): Promise<rpc.Vm | undefined> {
    let vm: rpc.Vm;
    try {
        vm = await c.getVm(props.vmId, props.username);
    } catch (err) {
        if (c.is(err, "notFound")) return undefined;
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
        `${inputs.username}: a VM named ${vm.name} (id ${vm.id}, state ${stateOf(vm)}) ${when} on ${endpoint}, but nothing proves it belongs to this deployment: ` +
            `${why}. It was left alone. It may be another stack's VM (set a different namePrefix for this stack), ` +
            `or a leftover of this stack from before its deployer key changed: check with \`npm run audit\`, delete it on Hero Compute if it is yours, and run pulumi up again.`,
    );
}

async function findByName(c: Compute, name: string, user: string): Promise<rpc.Vm | undefined> {
    return (await c.listVms(user)).find((v) => v.name === name);
}

/** The keys a VM should carry that the service does not report on it (none when it reports none at all: nothing to compare). */
function missingKeys(vm: rpc.Vm, keys: string[]): string[] {
    return vm.ssh_keys === undefined ? [] : keys.filter((k) => !carriesKey(vm.ssh_keys, k));
}

/**
 * A leftover VM of ours to adopt: it has our name AND carries this user's deployer key
 * (the first of `sshKeys`, generated for this deployment). A failed leftover of ours is
 * deleted; any other VM of that name is refused, and nothing is done to it. When keys
 * travel only with the deploy, a leftover of ours that lacks some of the keys is
 * deleted and deployed afresh (that is what a key change is then); nothing is injected.
 */
export async function adoptable(c: Compute, inputs: VmInputs, endpoint: string, slot: Slot): Promise<rpc.Vm | undefined> {
    const vm = await findByName(c, inputs.name, inputs.username);
    if (!vm) return undefined;
    const why = notProven(vm, inputs.sshKeys[0]);
    if (why) throw refusal(vm, inputs, endpoint, why, "already exists");
    if (vm.state === "unknown") throw new Error(`${inputs.username}: VM ${vm.id} (${vm.name}), left by an earlier attempt, cannot be judged: ${unknownState(vm, c)}. It was left alone.`);
    if (vm.state === "failed") {
        rpc.progress(`${inputs.username}: deleting failed VM ${vm.id} (${vm.name}) left by an earlier attempt${vm.error ? ` (Hero Compute said: ${vm.error})` : ""}`);
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
    const missing = c.keysInPlace ? [] : missingKeys(vm, inputs.sshKeys);
    if (missing.length > 0) {
        rpc.progress(`${inputs.username}: VM ${vm.id} (${vm.name}), left by an earlier attempt, lacks ${missing.length} of this user's keys, and keys travel only with the deploy: deleting it to deploy afresh`);
        await slot(() => deleteVm(c, vm.id, inputs.username));
        return undefined;
    }
    rpc.progress(`${inputs.username}: adopting VM ${vm.id} (${vm.name}), left by an earlier attempt`);
    if (c.keysInPlace) {
        // The leftover may predate a new deployer key: make sure every key is on it (adding keeps the rest).
        await slot(() => c.injectKeys({ vm_id: vm.id, name: vm.name }, inputs.sshKeys, inputs.username));
    }
    return vm;
}

/**
 * Deploys without blind retries: after a transport error or transient answer the
 * outcome is unknown, so look the name up again and adopt what is there; deploy
 * again only when nothing is. When the binding registers keys first, every
 * attempt registers them (by name) just before it: adding keys is idempotent.
 */
export async function deployVm(c: Compute, inputs: VmInputs, endpoint: string): Promise<rpc.Vm> {
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
            const unsure = (err as rpc.RpcError).transient || c.is(err, "nameExists");
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

export interface WaitOptions {
    timeoutMs: number;
    pollMs: number;
    progressMs: number;
    /** Holds a slot for the clean-up delete. */
    slot: Slot;
}

/**
 * Waits, holding no slot, until the VM has a mycelium IP: each poll round is one
 * `list_vms` shared by every VM this host waits for (providers/compute/poller.ts).
 * A failed state (as the binding's value map reads the service's word) or a state
 * the map does not know stops the wait at once; so does the deadline. Then the VM
 * is deleted, if it is still provably ours, and the error says what the service said.
 */
export async function waitReady(c: Compute, inputs: VmInputs, first: rpc.Vm, o: WaitOptions): Promise<rpc.Vm> {
    const user = inputs.username;
    const started = Date.now();
    const deadline = started + o.timeoutMs;
    let vm = first;
    let lastLog = started;
    for (;;) {
        let reason: string | undefined;
        const said = vm.error ? ` (Hero Compute said: ${vm.error})` : "";
        if (vm.state === "failed") reason = `Hero Compute reports the deployment failed on node ${vm.node_id ?? "?"}, state "${vm.stateWord ?? vm.state}"${said}`;
        else if (vm.state === "unknown") reason = `${unknownState(vm, c)}${said}`;
        else if (vm.mycelium_ip) return vm;
        else if (Date.now() >= deadline) reason = `no mycelium IP within ${rpc.elapsed(started)} (vmReadyTimeoutMinutes); last state ${stateOf(vm)} on node ${vm.node_id ?? "?"}`;
        if (reason) {
            throw new Error(
                `${user}: VM ${vm.id} (${vm.name}) did not become ready: ${reason}; ${await cleanUp(c, inputs, vm, o)}. ` +
                    `Run pulumi up again, or pin another node (vm.node in the users file) or raise vmReadyTimeoutMinutes if it keeps happening.`,
            );
        }
        if (Date.now() - lastLog >= o.progressMs) {
            rpc.progress(`${user}: waiting for VM ${vm.id} on node ${vm.node_id ?? "?"} to get its mycelium address: ${stateOf(vm)} (${rpc.elapsed(started)})`);
            lastLog = Date.now();
        }
        const seen = await nextSighting(c, first.id, o.pollMs, deadline, user);
        if (seen === undefined) throw new Error(`${user}: VM ${first.id} (${first.name}) vanished from Hero Compute while deploying.`);
        if (seen !== "timeout") vm = seen;
    }
}

/** Deletes a VM that did not become ready, with the same proof as every delete: our id, our name, our deployer key (when keys are reported). */
async function cleanUp(c: Compute, inputs: VmInputs, vm: rpc.Vm, o: WaitOptions): Promise<string> {
    try {
        const ours = vm.name === inputs.name && (vm.ssh_keys === undefined || carriesKey(vm.ssh_keys, inputs.sshKeys[0]));
        if (!ours) return `it was left alone: it does not carry this user's deployer key, so nothing proves it is this stack's`;
        await o.slot(() => deleteVm(c, vm.id, inputs.username));
        return "it was deleted";
    } catch (err) {
        return `deleting it failed too (${(err as Error).message}): delete VM ${vm.id} on Hero Compute by hand`;
    }
}

/** Deletes a VM by id; one already gone (the binding's "not found") is done. */
export async function deleteVm(c: Compute, vmId: string, user: string): Promise<void> {
    try {
        await c.deleteVm(vmId, user);
    } catch (err) {
        if (!c.is(err, "notFound")) throw err;
    }
}
