/**
 * Readiness polling shared by every VM one provider-host process is waiting for:
 * one `list_vms` per poll round and endpoint, however many VMs are deploying,
 * instead of one `get_vm` per VM per round. A waiter joins the round that is
 * scheduled next (or schedules it, `pollMs` from now) and reads its own VM from
 * the answer. The rounds live on `globalThis`, like the deploy slots, so they
 * are shared by every deserialized copy of the VM provider in the host.
 */
import type { Compute } from "./bind";
import * as rpc from "./client";

interface Rounds {
    /** The next round per endpoint: resolves with that round's VMs by id. */
    next: Map<string, Promise<Map<string, rpc.Vm>>>;
    /** Rounds made, per endpoint (for tests and the bench). */
    made: Map<string, number>;
}

function rounds(): Rounds {
    const g = globalThis as { __heroComputePollRounds?: Rounds };
    return (g.__heroComputePollRounds ??= { next: new Map(), made: new Map() });
}

/**
 * The VM `vmId` as the next poll round sees it, or `undefined` when the round's
 * list no longer has it. Waits at most until `deadline` (then resolves "timeout"),
 * so a waiter never overshoots its own deadline for a shared round.
 */
export async function nextSighting(c: Compute, vmId: string, pollMs: number, deadline: number, user: string): Promise<rpc.Vm | undefined | "timeout"> {
    const key = rpc.canonicalEndpoint(c.conn.url);
    const r = rounds();
    let round = r.next.get(key);
    if (!round) {
        round = (async () => {
            await new Promise((resolve) => setTimeout(resolve, pollMs));
            r.next.delete(key); // waiters arriving from now on wait for the round after this one
            r.made.set(key, (r.made.get(key) ?? 0) + 1);
            const vms = await c.listVms(user);
            return new Map(vms.map((v) => [v.id, v]));
        })();
        round.catch(() => undefined); // a failed round rejects for its waiters; it is not unhandled
        r.next.set(key, round);
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), Math.max(0, deadline - Date.now()))));
    try {
        const seen = await Promise.race([round, timeout]);
        return seen === "timeout" ? seen : seen.get(vmId);
    } finally {
        clearTimeout(timer);
    }
}

/** How many poll rounds this process made against `url`. */
export function pollRoundsMade(url: string): number {
    return rounds().made.get(rpc.canonicalEndpoint(url)) ?? 0;
}
