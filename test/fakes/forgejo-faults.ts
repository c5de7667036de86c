/**
 * Fault injection for the fake Forgejo (and the fault proxy in front of the
 * real one, test/support/fault-proxy.ts): a queue of faults waiting for the
 * requests they match, and their application: a 5xx/429 answer, a reset
 * connection, or a slow answer, before or after the handler did its work.
 */
import type * as http from "http";

/** A fault for the next requests matching `method` and `path` (regexp on the path without query). */
export type Fault =
    | { kind: "status"; status: number; retryAfterSeconds?: number; when?: "before" | "after" }
    | { kind: "reset"; when?: "before" | "after" }
    | { kind: "slow"; ms: number; when?: "before" | "after" };

export interface RecordedRequest {
    method: string;
    path: string;
    /** How the caller authenticated: never the credential itself. */
    auth: "token" | "basic" | "none";
    status: number;
}

/** Faults waiting for their requests, each for `times` more matches. */
export type FaultQueue = Array<{ method?: string; path: RegExp; fault: Fault; times: number }>;

/** Takes the first fault matching the request off `faults` (a match uses one of its times). */
export function takeFault(faults: FaultQueue, method: string, path: string): Fault | undefined {
    const i = faults.findIndex((f) => (!f.method || f.method === method) && f.path.test(path));
    if (i < 0) return undefined;
    const f = faults[i];
    if (--f.times <= 0) faults.splice(i, 1);
    return f.fault;
}

/** Applies a fault; true when it answered (so the real answer is dropped). `url`: the server's, in the error body. */
export async function applyFault(fault: Fault, res: http.ServerResponse, record: RecordedRequest, url: string): Promise<boolean> {
    if (fault.kind === "reset") {
        record.status = -1;
        res.socket?.destroy();
        return true;
    }
    if (fault.kind === "slow") {
        await new Promise((resolve) => setTimeout(resolve, fault.ms));
        return false;
    }
    record.status = fault.status;
    res.statusCode = fault.status;
    if (fault.retryAfterSeconds !== undefined) res.setHeader("retry-after", String(fault.retryAfterSeconds));
    res.setHeader("content-type", "application/json;charset=utf-8");
    res.end(JSON.stringify({ message: `injected ${fault.status}`, url }));
    return true;
}
