/**
 * A small JSON-RPC 2.0 client for Hero Compute (ComputeService), over HTTP(S)
 * or a Unix socket, through undici.
 *
 * An ordinary module: the state holds only the providers' thin shims
 * (providers/shims.ts), which load this code from the project's node_modules.
 * It knows no method names: the binding (binding.json, read by bind.ts) maps our operations onto
 * the live contract, and contract.ts checks that binding against the live
 * document.
 */
import { Agent, request } from "undici";
import { insecureUrlProblem } from "../url-rules";

/**
 * The error codes of the repo's own document (`components.errors` of openrpc.json).
 * The providers act on what the binding's `errors` say (bind.ts), these are its defaults.
 */
export const ERRORS = {
    InvalidParams: -32602,
    NotFound: -32004,
    NameTaken: -32010,
    NameExists: -32011,
    DeployFailed: -32020,
} as const;

/** Our VM states; a live state the binding's value map does not know reads as `unknown`, its word in `stateWord`. */
export type VmState = "deploying" | "running" | "stopped" | "failed";
/** Our gateway states; a binding that reads no gateway state makes every gateway `ready`. */
export type GatewayState = "deploying" | "ready" | "failed";

/** A VM in our names (the binding renames the live fields to these). Sizes in MB. */
export interface Vm {
    id: string;
    name: string;
    state: VmState | "unknown";
    /** The state as the service said it, before the binding's value map. */
    stateWord?: string;
    /** What the service says went wrong, when it says (the binding's `error` result field). */
    error?: string;
    node_id?: number | null;
    mycelium_ip?: string | null;
    cpu?: number;
    memory?: number;
    rootfs_size?: number;
    /** The authorised public keys, when the service reports them: the proof a leftover is ours. */
    ssh_keys?: string[];
}

/** A gateway in our names (the binding renames the live fields to these). */
export interface Gateway {
    name: string;
    fqdn: string;
    backend: string;
    vm_id?: string | null;
    state: GatewayState | "unknown";
    stateWord?: string;
    error?: string;
}

/** Where and how to call. `url`: `https://…`, `http://…` or `unix:///…/rpc.sock`. */
export interface Conn {
    url: string;
    token?: string;
    /** The header the token travels in. @default "authorization" */
    authHeader?: string;
    /** The scheme before the token in that header ("" for none). @default "Bearer" with the default header, else none */
    authScheme?: string;
    /** Per request, including the body. @default 30000 */
    timeoutMs?: number;
    /** Extra attempts after a transport error or a transient answer (429, 5xx). @default 3 */
    retries?: number;
    /** First backoff; doubles per attempt. @default 500 */
    backoffMs?: number;
}

/** Every failure of a call: a JSON-RPC error, an HTTP error or a transport error. */
export class RpcError extends Error {
    constructor(
        readonly method: string,
        readonly user: string | undefined,
        /** JSON-RPC code, `HTTP <status>`, or the transport error's code (`ECONNRESET`, `timeout`, …). */
        readonly code: number | string,
        readonly serverMessage: string,
        /** True for transport errors and 429/5xx answers: the call may be retried if it creates nothing. */
        readonly transient: boolean,
    ) {
        super(`Hero Compute ${method}${user ? ` for ${user}` : ""} failed (${code}): ${serverMessage}`);
        this.name = "RpcError";
    }
}

/** True when `err` is an RpcError with JSON-RPC code `code` (works across separately deserialized copies). */
export function isRpcCode(err: unknown, code: number): boolean {
    return (err as RpcError | undefined)?.name === "RpcError" && (err as RpcError).code === code;
}

/** The endpoint as recorded in state: no credentials, no query, no trailing slash. */
export function canonicalEndpoint(url: string): string {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    u.search = "";
    u.hash = "";
    return u.toString().replace(/\/+$/, "");
}

/**
 * Refuses a Hero Compute URL a token may not travel to: only `https://`, `unix://`, or
 * `http://` on a loopback host (as forgeUrl). `what` names where the URL came from.
 * Returns the URL. Every request checks it too, so no path sends the token in clear text.
 */
export function checkComputeUrl(raw: string, what = "config hero-os-grid-deployer:computeUrl"): string {
    const problem = insecureUrlProblem(raw, what, { unix: true });
    if (problem) throw new Error(problem);
    return raw;
}

/** One JSON-RPC call, with retry on transport errors and transient answers unless `retry` is false. */
export async function call<T>(
    conn: Conn,
    method: string,
    params: Record<string, unknown> = {},
    opts: { user?: string; retry?: boolean } = {},
): Promise<T> {
    checkComputeUrl(conn.url, "the Hero Compute URL");
    const attempts = opts.retry === false ? 1 : 1 + (conn.retries ?? 3);
    for (let attempt = 1; ; attempt++) {
        try {
            return await callOnce<T>(conn, method, params, opts.user);
        } catch (err) {
            const e = err as RpcError;
            if (!e.transient) {
                throw err;
            }
            if (attempt >= attempts) {
                const advice = `gave up after ${attempt} attempts; check that Hero Compute is up and computeUrl (${canonicalEndpoint(conn.url)}) is right, then run pulumi up again: it resumes where it stopped`;
                throw new RpcError(e.method, e.user, e.code, `${e.serverMessage}; ${advice}`, true);
            }
            const backoff = (conn.backoffMs ?? 500) * 2 ** (attempt - 1);
            await new Promise((resolve) => setTimeout(resolve, backoff));
        }
    }
}

/** The JSON-RPC endpoint of `conn` as an HTTP URL (`http://localhost/rpc` on a Unix socket). */
function targetOf(conn: Conn): string {
    const u = new URL(conn.url);
    return u.protocol === "unix:" ? "http://localhost/rpc" : u.pathname === "/" ? `${u.origin}/rpc` : `${u.origin}${u.pathname}`;
}

/** The agent that reaches `conn`: its Unix socket, or TCP. One per request, destroyed after it. */
function agentOf(conn: Conn): Agent {
    const u = new URL(conn.url);
    return new Agent(u.protocol === "unix:" ? { connect: { socketPath: decodeURIComponent(u.pathname) } } : {});
}

/**
 * Where the service's `GET /openrpc.json` may be, most likely first: beside the
 * RPC path (`…/hero_compute/rpc/` → `…/hero_compute/openrpc.json`), under it, and at
 * the root. Hero services serve it at their root; through hero_router the root is
 * the service's prefix.
 */
export function documentUrls(conn: Conn): string[] {
    const u = new URL(targetOf(conn));
    const base = u.pathname.replace(/\/+$/, "");
    const beside = base.replace(/\/rpc$/, "") || "";
    return [...new Set([`${u.origin}${beside}/openrpc.json`, `${u.origin}${base}/openrpc.json`, `${u.origin}/openrpc.json`])];
}

/** One GET of a JSON document from the service (the same socket or host as `conn`), no retry. */
export async function getJson(conn: Conn, url: string): Promise<unknown> {
    checkComputeUrl(conn.url, "the Hero Compute URL");
    checkComputeUrl(url, "the Hero Compute document URL");
    const agent = agentOf(conn);
    const timeoutMs = conn.timeoutMs ?? 30_000;
    const headers: Record<string, string> = { accept: "application/json", ...authHeaders(conn) };
    const route = `GET ${new URL(url).pathname}`;
    try {
        const res = await request(url, { method: "GET", dispatcher: agent, headers, signal: AbortSignal.timeout(timeoutMs), headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
        const text = await res.body.text();
        if (res.statusCode !== 200) throw new RpcError(route, undefined, `HTTP ${res.statusCode}`, redact(bodyMessage(text, safeJson(text)), conn.token), res.statusCode >= 500);
        try {
            return JSON.parse(text);
        } catch {
            throw new RpcError(route, undefined, `HTTP ${res.statusCode}`, "the answer is not JSON", false);
        }
    } catch (err) {
        if ((err as RpcError).name === "RpcError") throw err;
        const e = err as { code?: string; name?: string; message?: string };
        const code = e.name === "TimeoutError" || e.name === "AbortError" ? "timeout" : (e.code ?? e.name ?? "transport");
        throw new RpcError(route, undefined, code, redact(code === "timeout" ? `no answer within ${timeoutMs} ms` : (e.message ?? String(err)), conn.token), true);
    } finally {
        agent.destroy().catch(() => undefined);
    }
}

/** The header carrying the token, as the binding's `auth` names it: `Authorization: Bearer <token>` unless told otherwise. */
export function authHeaders(conn: Pick<Conn, "token" | "authHeader" | "authScheme">): Record<string, string> {
    if (!conn.token) return {};
    const header = (conn.authHeader ?? "authorization").toLowerCase();
    const scheme = conn.authHeader === undefined ? (conn.authScheme ?? "Bearer") : (conn.authScheme ?? "");
    return { [header]: scheme ? `${scheme} ${conn.token}` : conn.token };
}

/** The message of an HTTP error's JSON body (`{"error": "…"}`, `{"error": {"message": "…"}}`, `{"message": "…"}`), else its text. */
export function bodyMessage(text: string, msg: unknown): string {
    const m = msg as { error?: unknown; message?: unknown } | undefined;
    const e = m?.error as { message?: unknown } | string | undefined;
    const found = typeof e === "string" ? e : typeof e?.message === "string" ? e.message : typeof m?.message === "string" ? m.message : undefined;
    return (found ?? text).slice(0, 300) || "no body";
}

async function callOnce<T>(conn: Conn, method: string, params: Record<string, unknown>, user?: string): Promise<T> {
    const target = targetOf(conn);
    const agent = agentOf(conn);
    const timeoutMs = conn.timeoutMs ?? 30_000;
    const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json", ...authHeaders(conn) };
    const body: Record<string, unknown> = { jsonrpc: "2.0", id: 1, method };
    if (Object.keys(params).length > 0) {
        body.params = params;
    }
    const fail = (code: number | string, message: string, transient: boolean) =>
        new RpcError(method, user, code, redact(message, conn.token), transient);
    let status: number;
    let text: string;
    try {
        const res = await request(target, {
            method: "POST",
            dispatcher: agent,
            headers,
            body: JSON.stringify(body),
            signal: AbortSignal.timeout(timeoutMs),
            headersTimeout: timeoutMs,
            bodyTimeout: timeoutMs,
        });
        status = res.statusCode;
        text = await res.body.text();
    } catch (err) {
        const e = err as { code?: string; name?: string; message?: string };
        const code = e.name === "TimeoutError" || e.name === "AbortError" ? "timeout" : (e.code ?? e.name ?? "transport");
        throw fail(code, code === "timeout" ? `no answer within ${timeoutMs} ms` : (e.message ?? String(err)), true);
    } finally {
        agent.destroy().catch(() => undefined);
    }
    let msg: { result?: unknown; error?: { code?: unknown; message?: unknown; data?: unknown } | string | null } | undefined;
    try {
        msg = JSON.parse(text);
    } catch {
        msg = undefined;
    }
    // A JSON-RPC error has a numeric code; any other `error` (an HTTP 401's `{"error": "…"}`) is the HTTP status's message.
    const e = msg?.error;
    if (e !== null && typeof e === "object" && typeof e.code === "number") {
        const detail = e.data === undefined ? "" : ` (${JSON.stringify(e.data).slice(0, 300)})`;
        throw fail(e.code, `${typeof e.message === "string" && e.message ? e.message : "no message"}${detail}`, false);
    }
    if (status === 429 || status >= 500) {
        throw fail(`HTTP ${status}`, bodyMessage(text, msg), true);
    }
    if (status >= 400) {
        throw fail(`HTTP ${status}`, bodyMessage(text, msg), false);
    }
    if (!msg || !("result" in msg)) {
        throw fail(`HTTP ${status}`, msg?.error ? bodyMessage(text, msg) : text.slice(0, 300) || "no JSON-RPC result in the answer", false);
    }
    return msg.result as T;
}

function safeJson(text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return undefined;
    }
}

/** Removes the bearer token from text that may be printed. */
export function redact(text: string, token?: string): string {
    const out = text.replace(/(bearer\s+)[^\s"']+/gi, "$1[redacted]");
    return token ? out.split(token).join("[redacted]") : out;
}

// Settings, the deploy slots and progress lines live in settings.ts; the providers reach them through this module.
export * from "./settings";
