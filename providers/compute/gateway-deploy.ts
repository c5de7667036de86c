/**
 * How a gateway is looked up, proven ours, deployed, waited for and released:
 * the steps behind the gateway provider (gateway.ts). A gateway is this user's
 * only while it points at this user's VM. What "not found", "name taken",
 * "name exists" and a gateway's states mean comes from the binding (bind.ts).
 */
import type { Compute } from "./bind";
import * as rpc from "./client";
import type { GatewayInputs, GatewayOutputs } from "./gateway";

export interface GatewayOptions {
    /** Holds one of the `computeConcurrency` slots for a changing call. */
    slot: <T>(fn: () => Promise<T>) => Promise<T>;
    releaseWaitMs: number;
    /** How long a gateway the service reports deploying may take to be ready (vmReadyTimeoutMinutes). */
    readyTimeoutMs: number;
    pollMs: number;
    progressMs: number;
    /** The web gateway's grid node (`computeGatewayNode`), where the binding sends one. */
    gatewayNode?: number;
}

/** Whether a live gateway is the one recorded: it points at the same VM (by id when both know one, else by backend). */
export function belongs(gw: Pick<rpc.Gateway, "backend" | "vm_id">, rec: Pick<GatewayInputs, "backend" | "vmId">): boolean {
    return gw.vm_id && rec.vmId ? gw.vm_id === rec.vmId : gw.backend === rec.backend;
}

export async function getGateway(c: Compute, name: string, user: string): Promise<rpc.Gateway | undefined> {
    try {
        return await c.getGateway(name, user);
    } catch (err) {
        if (c.is(err, "notFound")) return undefined;
        throw err;
    }
}

async function deleteGateway(c: Compute, name: string, user: string): Promise<void> {
    try {
        await c.deleteGateway(name, user);
    } catch (err) {
        if (!c.is(err, "notFound")) throw err;
    }
}

/** Deletes the recorded gateway while it is still ours; one that is gone is done, one that points elsewhere is kept, with a warning. */
export async function releaseIfOurs(c: Compute, rec: GatewayOutputs, o: GatewayOptions, doing?: string): Promise<void> {
    const live = await getGateway(c, rec.name, rec.username);
    if (!live) return;
    if (!belongs(live, rec)) {
        rpc.progress(
            `${rec.username}: warning: keeping gateway ${rec.name}: it now points at ${live.backend}${live.vm_id ? ` (VM ${live.vm_id})` : ""}, ` +
                `not at this user's VM${rec.vmId ? ` ${rec.vmId}` : ""} (${rec.backend}), so it is no longer this user's to delete`,
        );
        return;
    }
    if (doing) rpc.progress(doing);
    await o.slot(() => deleteGateway(c, rec.name, rec.username));
}

/**
 * Our gateway of that name: adopted when it is already ours (a create that crashed
 * before Pulumi recorded it), redeployed when it is ours but points at an old backend
 * of our VM, deployed when the name is free. A name held by a gateway that is not ours
 * is waited for (bounded: another user of this update may be moving off it), then
 * refused. Never a blind retry of the deploy.
 */
export async function ensureGateway(c: Compute, inputs: GatewayInputs, o: GatewayOptions): Promise<rpc.Gateway> {
    const user = inputs.username;
    const started = Date.now();
    let lastLog = started;
    let clearedFailed = false;
    for (let attempt = 1; ; ) {
        const live = await getGateway(c, inputs.name, user);
        if (live && live.backend === inputs.backend && belongs(live, inputs)) {
            if (live.state === "failed" && clearedFailed) {
                throw new Error(`${user}: gateway ${live.name} still reports failed after it was deleted${live.error ? ` (Hero Compute said: ${live.error})` : ""}; it was left alone. Delete it on Hero Compute by hand and run pulumi up again.`);
            }
            if (live.state === "failed") {
                clearedFailed = true;
                rpc.progress(`${user}: deleting failed gateway ${live.name} left by an earlier attempt${live.error ? ` (Hero Compute said: ${live.error})` : ""}`);
                await o.slot(() => deleteGateway(c, live.name, user));
                continue;
            }
            rpc.progress(`${user}: adopting gateway ${live.name}, left by an earlier attempt`);
            return await waitGateway(c, inputs, live, o);
        }
        if (live && belongs(live, inputs)) {
            rpc.progress(`${user}: gateway ${live.name} of this VM points at ${live.backend}; redeploying it for ${inputs.backend}`);
            await o.slot(() => deleteGateway(c, live.name, user));
        } else if (live) {
            const held = `gateway name "${inputs.name}" is held by a gateway pointing at ${live.backend}${live.vm_id ? ` (VM ${live.vm_id})` : ""}, not at this user's VM`;
            if (Date.now() - started >= o.releaseWaitMs) {
                throw new Error(
                    `${user}: the ${held}, and it was not released within ${rpc.elapsed(started)} (gatewayReleaseWaitSeconds). It was left alone. ` +
                        `If it belongs to another user or stack, set gatewayName for ${user} in the users file to another name matching ^[a-z0-9]{3,36}$; ` +
                        `if it is an old gateway of this stack being moved in this update, run pulumi up again.`,
                );
            }
            if (Date.now() - lastLog >= o.progressMs) {
                rpc.progress(`${user}: waiting for the ${held}, to be released (${rpc.elapsed(started)})`);
                lastLog = Date.now();
            }
            await new Promise((r) => setTimeout(r, o.pollMs));
            continue;
        }
        // Our names; the binding renames, wraps the backend in a list, and drops what the live method does not take.
        const params: Record<string, unknown> = { name: inputs.name, backend: inputs.backend, vm_id: inputs.vmId || undefined, node_id: o.gatewayNode };
        let deployed: rpc.Gateway;
        try {
            deployed = await o.slot(() => c.deployGateway(params, user));
        } catch (err) {
            if (c.is(err, "nameTaken")) {
                throw new Error(
                    `${user}: the gateway name "${inputs.name}" is already taken on the grid by someone else. ` +
                        `Set gatewayName for ${user} in the users file to another name matching ^[a-z0-9]{3,36}$ and run pulumi up again. ` +
                        `(Hero Compute said: ${(err as rpc.RpcError).serverMessage})`,
                );
            }
            const unsure = (err as rpc.RpcError).transient || c.is(err, "nameExists");
            if (!unsure || attempt >= 3) throw err;
            attempt++;
            // The outcome is unknown: the next round looks the name up before deploying again.
            continue;
        }
        return await waitGateway(c, inputs, deployed, o);
    }
}

/**
 * A gateway the service reports deploying is polled until ready, within
 * vmReadyTimeoutMinutes. One reported failed, or in a state the binding's value
 * map does not know, stops at once: it is deleted while it still points at this
 * user's VM, and the error says what the service said.
 */
async function waitGateway(c: Compute, inputs: GatewayInputs, first: rpc.Gateway, o: GatewayOptions): Promise<rpc.Gateway> {
    const user = inputs.username;
    const started = Date.now();
    let gw = first;
    let lastLog = started;
    for (;;) {
        if (gw.state === "ready") return gw;
        const said = gw.error ? ` (Hero Compute said: ${gw.error})` : "";
        const where = c.binding.file ? `the binding ${c.binding.file}` : "the binding";
        const reason =
            gw.state === "failed" ? `Hero Compute reports it failed, state "${gw.stateWord ?? gw.state}"${said}`
            : gw.state === "unknown" ? `Hero Compute reports state "${gw.stateWord}", which ${where} does not map: add "${gw.stateWord}" under states.Gateway, mapped to one of deploying, ready, failed${said}`
            : Date.now() - started >= o.readyTimeoutMs ? `it was still ${gw.state} after ${rpc.elapsed(started)} (vmReadyTimeoutMinutes)`
            : undefined;
        if (reason) {
            let cleanup = "it was deleted";
            try {
                if (belongs(gw, inputs)) await o.slot(() => deleteGateway(c, gw.name, user));
                else cleanup = "it no longer points at this user's VM, so it was left alone";
            } catch (err) {
                cleanup = `deleting it failed too (${(err as Error).message}): delete gateway ${gw.name} on Hero Compute by hand`;
            }
            throw new Error(`${user}: gateway ${gw.name} did not become ready: ${reason}; ${cleanup}. Run pulumi up again.`);
        }
        if (Date.now() - lastLog >= o.progressMs) {
            rpc.progress(`${user}: waiting for gateway ${gw.name} to be ready: ${gw.state} (${rpc.elapsed(started)})`);
            lastLog = Date.now();
        }
        await new Promise((r) => setTimeout(r, o.pollMs));
        const seen = await getGateway(c, inputs.name, user);
        if (!seen) throw new Error(`${user}: gateway ${inputs.name} vanished from Hero Compute while deploying.`);
        gw = seen;
    }
}
