/**
 * The Hero Compute providers' settings from stack config, the process-wide deploy
 * slots, and progress lines: what the providers need besides the calls themselves
 * (client.ts, which re-exports all of it).
 */
import { checkComputeUrl, type Conn } from "./client";

/** Provider settings from stack config (namespace `hero-os-grid-deployer`), read in `configure()`. */
export interface ComputeSettings {
    url?: string;
    token?: string;
    concurrency: number;
    readyTimeoutMs: number;
    pollMs: number;
    progressMs: number;
    requestTimeoutMs: number;
    backoffMs: number;
    allowLoopbackBackend: boolean;
    /** How long a gateway waits for its name to be released by a gateway not ours (a swap within one update). */
    releaseWaitMs: number;
    /** The binding file (`computeBinding`), relative to the project or absolute; unset: the default binding. */
    bindingFile?: string;
    /** The grid node of the web gateway (`computeGatewayNode`), sent where the binding maps a gateway node param. */
    gatewayNode?: number;
}

/** Reads the provider settings. Fractions are allowed so tests can use short deadlines. */
export function settingsFrom(config: { get(key: string): string | undefined }): ComputeSettings {
    const get = (k: string): string | undefined => {
        const v: unknown = config.get(`hero-os-grid-deployer:${k}`);
        return v === undefined || v === null ? undefined : String(v);
    };
    const num = (k: string, dflt: number) => {
        const v = get(k);
        const n = v === undefined || v === "" ? dflt : Number(v);
        if (!Number.isFinite(n) || n <= 0) {
            throw new Error(`config hero-os-grid-deployer:${k} must be a positive number, not "${v}"`);
        }
        return n;
    };
    return {
        url: get("computeUrl") ? checkComputeUrl(get("computeUrl")!) : undefined,
        token: get("computeToken") || undefined,
        concurrency: Math.max(1, Math.floor(num("computeConcurrency", 3))),
        readyTimeoutMs: num("vmReadyTimeoutMinutes", 15) * 60_000,
        pollMs: num("computePollSeconds", 10) * 1000,
        progressMs: num("computeProgressSeconds", 30) * 1000,
        requestTimeoutMs: num("computeRequestTimeoutSeconds", 30) * 1000,
        backoffMs: num("computeBackoffSeconds", 0.5) * 1000,
        allowLoopbackBackend: String(get("computeAllowLoopbackBackend")) === "true", // a YAML boolean arrives as true, a CLI value as "true"
        releaseWaitMs: num("gatewayReleaseWaitSeconds", 120) * 1000,
        bindingFile: get("computeBinding") || undefined,
        gatewayNode: get("computeGatewayNode") ? gatewayNodeFrom(get("computeGatewayNode")) : undefined,
    };
}

/** `computeGatewayNode` as a grid node id, or a clear error. */
export function gatewayNodeFrom(v: unknown): number {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) {
        throw new Error(`config hero-os-grid-deployer:computeGatewayNode must be a grid node id (a whole number from 1), not "${v}"`);
    }
    return n;
}

/** The connection a configured provider uses; fails clearly when computeUrl is not set. */
export function connFrom(s: Partial<ComputeSettings>): Conn {
    if (!s.url) {
        throw new Error("config hero-os-grid-deployer:computeUrl is not set: the Hero Compute providers cannot reach the service");
    }
    return { url: s.url, token: s.token, timeoutMs: s.requestTimeoutMs, backoffMs: s.backoffMs };
}

/**
 * Runs `fn` holding one of `max` deploy slots. The slots live on `globalThis`, so
 * the cap holds across every user and across the VM and gateway providers in the
 * one dynamic-provider host process of a `pulumi up`.
 */
export async function withSlot<T>(max: number, fn: () => Promise<T>): Promise<T> {
    const g = globalThis as { __heroComputeSlots?: { active: number; max: number; waiting: (() => void)[] } };
    const s = (g.__heroComputeSlots ??= { active: 0, max, waiting: [] });
    s.max = max;
    if (s.active < s.max) {
        s.active++;
    } else {
        await new Promise<void>((resolve) => s.waiting.push(resolve)); // the releaser hands its slot over
    }
    try {
        return await fn();
    } finally {
        const next = s.waiting.shift();
        if (next) {
            next();
        } else {
            s.active--;
        }
    }
}

/** Waits for the next poll, never past the deadline. */
export function pause(ms: number, deadline: number): Promise<void> {
    const wait = Math.max(0, Math.min(ms, deadline - Date.now()));
    return new Promise((resolve) => setTimeout(resolve, wait));
}

/**
 * A progress line. Inside Pulumi's dynamic-provider host `pulumi.log` has no engine
 * connection (it would fall back to console.log), so write to stderr directly; the
 * engine shows a provider plugin's stderr lines in the `pulumi up` output.
 */
export function progress(line: string): void {
    process.stderr.write(`${line}\n`);
}

/** `2m10s`. */
export function elapsed(sinceMs: number): string {
    const s = Math.round((Date.now() - sinceMs) / 1000);
    return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}
