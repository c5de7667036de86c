/**
 * The binding's translation between our vocabulary and the wire, both ways:
 * the method names to try, the params of one call (renamed, typed, sizes
 * converted, constants added), a result in our names (states mapped through
 * the binding's value maps), and which JSON-RPC errors mean "not found", "name
 * taken" and "name exists". Pure: no network, no files.
 */
import type { Binding, ErrorMatch, OperationName, ResultKind } from "./bind";
import type { GatewayState, VmState } from "./client";

/** Logical params and result fields that are sizes: MB on our side, `sizeUnit` on the wire. */
const SIZES = new Set(["memory", "disk"]);

/** Our VM states, and the gateway's: what a binding's value maps point at. */
export const VM_STATES: readonly VmState[] = ["deploying", "running", "stopped", "failed"];
export const GATEWAY_STATES: readonly GatewayState[] = ["deploying", "ready", "failed"];

/** What "not found", "name taken" (the grid-wide gateway name is someone else's) and "name exists" (on this service) are, unless the binding says. */
export const DEFAULT_ERRORS: Record<ErrorKind, ErrorMatch> = {
    notFound: { code: -32004 },
    nameTaken: { code: -32010 },
    nameExists: { code: -32011 },
};
export type ErrorKind = "notFound" | "nameTaken" | "nameExists";
export const ERROR_KINDS: ErrorKind[] = ["notFound", "nameTaken", "nameExists"];

/**
 * The live method names to try for an operation, in order. Without a `service`
 * prefix: as written. Written with the prefix: as written, then bare. Written
 * bare: as written, then prefixed. Written with another prefix (a dot in it):
 * as written only, never `<service>.<other prefix>.<method>`.
 */
export function methodCandidates(written: string, service: string): string[] {
    if (!service) return [written];
    const prefix = `${service}.`;
    if (written.startsWith(prefix)) return [written, written.slice(prefix.length)];
    if (written.includes(".")) return [written];
    return [written, `${prefix}${written}`];
}

/** A value in the wire type the binding gives it (`types`): ids we keep as strings go out as integers where the service wants them. */
export function typed(op: OperationName, ours: string, v: unknown, type: string | undefined): unknown {
    if (type === "integer" || type === "number") {
        if (typeof v === "number") return v;
        const n = typeof v === "string" && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : NaN;
        if (!Number.isFinite(n) || (type === "integer" && !Number.isSafeInteger(n))) {
            throw new Error(`our ${ours} ${JSON.stringify(v)} is no ${type}, but the binding sends it as one (operations.${op}.types.${ours})`);
        }
        return n;
    }
    if (type === "string" && typeof v === "number") return String(v);
    return v;
}

/** The live params for one call: renamed, typed, sizes converted, the backend wrapped, constants added. Unset values are not sent. */
export function liveParams(b: Binding, op: OperationName, values: Record<string, unknown>): Record<string, unknown> {
    const o = b.operations[op];
    if (!o) throw new Error(`the binding has no ${op} operation`);
    const out: Record<string, unknown> = {};
    for (const [ours, live] of Object.entries(o.params ?? {})) {
        let v = values[ours];
        if (v === undefined || v === null) continue;
        if (SIZES.has(ours) && typeof v === "number" && b.sizeUnit === "GB") v = v / 1024;
        if (ours === "flist" && typeof v === "string") v = b.images[v] ?? v;
        if (ours === "backend" && b.backends === "list") v = [v];
        out[live] = typed(op, ours, v, o.types?.[ours]);
    }
    return { ...out, ...(o.constants ?? {}) };
}

/** A live state word in ours, through the binding's value map (ours as they are without one); undefined when the map does not know it. */
export function ourState(b: Binding, kind: ResultKind, word: unknown): string | undefined {
    const map = b.states?.[kind];
    const ours: readonly string[] = kind === "Vm" ? VM_STATES : GATEWAY_STATES;
    if (typeof word !== "string") return undefined;
    if (map) return map[word];
    return ours.includes(word) ? word : undefined;
}

/**
 * A live result in our names: renamed, sizes back in MB, the first of a backend
 * list, ids as strings whatever their wire type, the state mapped. A state the
 * map does not know reads as `unknown`, its word kept in `stateWord`, so that
 * whoever waits on it stops and names it. A gateway whose binding reads no
 * state is `ready`.
 */
export function ourResult<T>(b: Binding, kind: ResultKind, raw: unknown): T {
    const r = (raw ?? {}) as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [ours, live] of Object.entries(b.results[kind])) {
        let v = r[live];
        if (v === undefined) continue;
        if (SIZES.has(ours) && typeof v === "number" && b.sizeUnit === "GB") v = v * 1024;
        if (ours === "backend" && Array.isArray(v)) v = v[0];
        if ((ours === "id" || ours === "vm_id") && typeof v === "number") v = String(v);
        if (ours === "state") {
            out.stateWord = v;
            v = ourState(b, kind, v) ?? "unknown";
        }
        out[ours] = v;
    }
    if (kind === "Gateway" && out.state === undefined) out.state = "ready";
    return out as T;
}

/** Whether `err` (an RpcError, or its copy across a deserialization) is what the binding says means `kind`. */
export function errorIs(b: Binding, err: unknown, kind: ErrorKind): boolean {
    const e = err as { name?: string; code?: unknown; serverMessage?: unknown } | undefined;
    if (e?.name !== "RpcError") return false;
    const m = b.errors?.[kind] ?? DEFAULT_ERRORS[kind];
    if (m.code === undefined && m.message === undefined) return false;
    if (m.code !== undefined && e.code !== m.code) return false;
    return m.message === undefined || String(e.serverMessage ?? "").toLowerCase().includes(m.message.toLowerCase());
}
