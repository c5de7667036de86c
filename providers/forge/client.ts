/**
 * A small HTTP client for Forgejo's REST API (`/api/v1`), shared by the Forge
 * dynamic providers.
 *
 * An ordinary module: the state holds only the providers' thin shims
 * (providers/shims.ts), which load this code from the project's node_modules.
 *
 * One `call()` does every request: a timeout on each attempt, retry with bounded
 * backoff on transport errors, 429 and 5xx only (and only when the caller says
 * the request is safe to repeat), and one typed `ForgeError` for every failure.
 * Credentials never appear in an error: the message is built from the route
 * template, the status and Forgejo's own message, scrubbed of the secrets the
 * request carried.
 */
import * as undici from "undici";
import { insecureUrlProblem } from "../url-rules";

/** Where and how to reach Forgejo. */
/** What a Forge provider reads from stack config in `configure()`. The admin token stays here, never in state. */
export interface ForgeSettings {
    url?: string;
    token?: string;
    /** The provider's purge-on-teardown key is "true". */
    purge: boolean;
    timeoutMs?: number;
    retryBaseMs?: number;
}

/** Reads the Forge settings from a dynamic provider's config; `purgeKey` names its purge-on-teardown key. */
export function forgeSettingsFrom(config: { get(key: string): unknown }, purgeKey: string): ForgeSettings {
    const get = (key: string): string | undefined => {
        const v: unknown = config.get(`hero-os-grid-deployer:${key}`);
        return v === undefined || v === null || v === "" ? undefined : String(v);
    };
    const num = (key: string) => (get(key) === undefined ? undefined : Number(get(key)));
    return {
        url: get("forgeUrl"),
        token: get("forgeToken"),
        purge: (get(purgeKey) ?? "false").toLowerCase() === "true",
        timeoutMs: num("forgeTimeoutMs"),
        retryBaseMs: num("forgeRetryBaseMs"),
    };
}

/** The client options of a configured provider; fails clearly when forgeToken is not set. */
export function clientOptionsFrom(s: ForgeSettings | undefined): ForgeClientOptions {
    if (!s?.token) {
        throw new Error("config hero-os-grid-deployer:forgeToken is not set: run `pulumi config set --secret forgeToken` and type the admin token at its prompt (or pipe it in); never put it on the command line");
    }
    return { baseUrl: s.url ?? "", token: s.token, timeoutMs: s.timeoutMs, retryBaseMs: s.retryBaseMs };
}

export interface ForgeClientOptions {
    /** Forge base URL, e.g. `https://forge.ourworld.tf` (a trailing `/api/v1` is accepted). */
    baseUrl: string;
    /** Admin API token, sent as `Authorization: token …` unless a call uses Basic auth. */
    token?: string;
    /** Time limit of one attempt, in ms. @default 30000 */
    timeoutMs?: number;
    /** Extra attempts after a retryable failure. @default 3 */
    retries?: number;
    /** First backoff delay in ms; doubles each attempt, capped at 8 s. @default 500 */
    retryBaseMs?: number;
    /** An undici `Dispatcher` (tests inject one); the global dispatcher otherwise. */
    dispatcher?: unknown;
}

/** Basic auth as a Forge user: the only way Forgejo lets anyone mint a token. */
export interface BasicAuth {
    username: string;
    password: string;
}

export interface CallOptions {
    /** Path parameters, substituted into `{name}` placeholders and URL-encoded. */
    params?: Record<string, string | number>;
    query?: Record<string, string | number | boolean>;
    /** JSON request body. */
    body?: unknown;
    /** Authenticate as this user with Basic auth instead of the admin token. */
    basic?: BasicAuth;
    /**
     * Whether a transport error, 429 or 5xx may be retried. Defaults to true for
     * GET, PUT, PATCH and DELETE and false for POST: a create is made safe by
     * looking up first, never by blind retry.
     */
    retry?: boolean;
}

export interface ForgeResponse<T> {
    status: number;
    body: T;
}

/**
 * Every Forge failure: the route template (`POST /admin/users`), the HTTP
 * status (0 for a transport error or timeout), Forgejo's own message, and
 * whether it was worth retrying.
 */
export class ForgeError extends Error {
    readonly route: string;
    readonly status: number;
    readonly forgeMessage: string;
    readonly retryable: boolean;
    /** What the admin should do about it, when the caller knows. */
    readonly explanation?: string;
    /** `explanation`, when given, leads the message: what the admin should do about it. */
    constructor(route: string, status: number, forgeMessage: string, retryable: boolean, explanation?: string) {
        const what = `Forge ${route} ${status === 0 ? "failed" : `answered ${status}`}: ${forgeMessage}`;
        const message = explanation ? `${explanation} (${what})` : what;
        super(message);
        this.name = "ForgeError";
        this.route = route;
        this.status = status;
        this.forgeMessage = forgeMessage;
        this.retryable = retryable;
        this.explanation = explanation;
    }
}

/** The same failure, led by an explanation an admin can act on. */
export function explain(err: ForgeError, explanation: string): ForgeError {
    return new ForgeError(err.route, err.status, err.forgeMessage, err.retryable, explanation);
}

/** True for a ForgeError with one of the given statuses. */
export function isForgeStatus(err: unknown, ...statuses: number[]): err is ForgeError {
    return err instanceof ForgeError && statuses.includes(err.status);
}

/**
 * Refuses a Forge URL that is not HTTPS, except for loopback hosts (tests, a
 * local tunnel). Returns the base URL without trailing slashes or `/api/v1`.
 */
export function checkForgeUrl(raw: string | undefined): string {
    if (!raw) {
        throw new Error("config hero-os-grid-deployer:forgeUrl is not set (e.g. https://forge.ourworld.tf)");
    }
    const problem = insecureUrlProblem(raw, "config hero-os-grid-deployer:forgeUrl", { unix: false });
    if (problem) throw new Error(problem);
    const url = new URL(raw);
    if (url.username || url.password) {
        throw new Error("config hero-os-grid-deployer:forgeUrl must not carry credentials; set forgeToken instead");
    }
    return `${url.origin}${url.pathname}`.replace(/\/+$/, "").replace(/\/api\/v1$/, "");
}

/** Replaces each secret, and anything shaped like an auth header, with `[redacted]`. */
export function redact(text: string, secrets: Array<string | undefined> = []): string {
    let out = text;
    for (const s of secrets) {
        if (s && s.length >= 4) {
            out = out.split(s).join("[redacted]");
        }
    }
    return out.replace(/\b(token|bearer|basic)\s+[A-Za-z0-9+/=._-]{8,}/gi, "$1 [redacted]");
}

/**
 * Performs one Forgejo API request. `route` is a template such as
 * `"GET /users/{username}"`; the path is relative to `/api/v1`. Resolves with
 * any 2xx answer; every other outcome rejects with a ForgeError.
 */
export async function call<T = unknown>(client: ForgeClientOptions, route: string, opts: CallOptions = {}): Promise<ForgeResponse<T>> {
    const space = route.indexOf(" ");
    const method = route.slice(0, space);
    const template = route.slice(space + 1);
    const params = opts.params ?? {};
    const path = template.replace(/\{(\w+)\}/g, (_m, name: string) => {
        if (params[name] === undefined) {
            throw new Error(`Forge ${route}: missing path parameter ${name}`);
        }
        return encodeURIComponent(String(params[name]));
    });
    const url = new URL(`${checkForgeUrl(client.baseUrl)}/api/v1${path}`);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
        url.searchParams.set(k, String(v));
    }
    // A password sent in a body (creating a user, setting its password) is as secret as a Basic one.
    const bodyPassword = (opts.body as { password?: unknown } | undefined)?.password;
    const secrets = [client.token, opts.basic?.password, typeof bodyPassword === "string" ? bodyPassword : undefined];
    const headers: Record<string, string> = { accept: "application/json" };
    if (opts.basic) {
        const pair = Buffer.from(`${opts.basic.username}:${opts.basic.password}`).toString("base64");
        headers.authorization = `Basic ${pair}`;
        secrets.push(pair);
    } else if (client.token) {
        headers.authorization = `token ${client.token}`;
    }
    let body: string | undefined;
    if (opts.body !== undefined) {
        body = JSON.stringify(opts.body);
        headers["content-type"] = "application/json";
    }
    const timeoutMs = client.timeoutMs ?? 30_000;
    const retries = (opts.retry ?? method !== "POST") ? (client.retries ?? 3) : 0;

    for (let attempt = 0; ; attempt++) {
        let failure: ForgeError;
        let waitMs = backoffMs(client, attempt);
        try {
            const res = await undici.request(url, {
                method,
                headers,
                body,
                dispatcher: client.dispatcher as undici.Dispatcher | undefined,
                headersTimeout: timeoutMs,
                bodyTimeout: timeoutMs,
                signal: AbortSignal.timeout(timeoutMs),
            });
            const text: string = await res.body.text();
            let parsed: any = undefined;
            if (text) {
                try {
                    parsed = JSON.parse(text);
                } catch {
                    parsed = text;
                }
            }
            if (res.statusCode >= 200 && res.statusCode < 300) {
                return { status: res.statusCode, body: parsed as T };
            }
            const message =
                (parsed && typeof parsed === "object" && typeof parsed.message === "string" && parsed.message) ||
                (typeof parsed === "string" && parsed.slice(0, 300)) ||
                "(no message)";
            const retryable = res.statusCode === 429 || res.statusCode >= 500;
            failure = new ForgeError(route, res.statusCode, redact(message, secrets), retryable);
            const after = Number(res.headers["retry-after"]);
            if (res.statusCode === 429 && Number.isFinite(after)) {
                waitMs = Math.min(30_000, after * 1000);
            }
        } catch (err) {
            if (err instanceof ForgeError) {
                throw err;
            }
            const e = err as { name?: string; code?: string; message?: string };
            const timedOut = e.name === "TimeoutError" || e.name === "AbortError" || /Timeout/.test(e.code ?? "");
            const what = timedOut ? `no answer within ${timeoutMs} ms` : `${e.code ?? e.name ?? "error"}: ${e.message ?? String(err)}`;
            failure = new ForgeError(route, 0, redact(`${what} (${url.origin})`, secrets), true);
        }
        if (!failure.retryable || attempt >= retries) {
            if (failure.retryable && retries > 0) {
                const advice = `Forge at ${url.origin} is unreachable or failing; check forgeUrl and that Forge is up, then run pulumi up again: it resumes where it stopped`;
                throw new ForgeError(route, failure.status, `${failure.forgeMessage} (gave up after ${attempt + 1} attempts)`, true, advice);
            }
            throw failure;
        }
        await pause(waitMs);
    }
}

/** The wait before retry number `attempt + 1`: doubling from `retryBaseMs`, capped at 8 s, with jitter. */
export function backoffMs(client: ForgeClientOptions, attempt: number): number {
    return Math.min(8_000, (client.retryBaseMs ?? 500) * 2 ** attempt) * (0.5 + Math.random() / 2);
}

export function pause(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------
// Focused helpers. Each names one Forgejo operation (swagger operationId in
// brackets) and returns only what callers use.

/** The fields of Forgejo's `User` the tool reads. */
export interface ForgeUser {
    id: number;
    login: string;
    email?: string;
    full_name?: string;
    description?: string;
}

export interface ForgeToken {
    id: number;
    name: string;
    /** The token text: present only in the answer that minted it. */
    sha1?: string;
    token_last_eight?: string;
    scopes?: string[];
}

/** [userGet] The user, or undefined when Forgejo answers 404. */
export async function getUser(c: ForgeClientOptions, username: string): Promise<ForgeUser | undefined> {
    try {
        return (await call<ForgeUser>(c, "GET /users/{username}", { params: { username } })).body;
    } catch (err) {
        if (isForgeStatus(err, 404)) {
            return undefined;
        }
        throw err;
    }
}

/** [userGetCurrent] Who the given credentials belong to. */
export async function whoAmI(c: ForgeClientOptions, basic?: BasicAuth): Promise<ForgeUser> {
    return (await call<ForgeUser>(c, "GET /user", { basic })).body;
}

/** [adminCreateUser] Not retried: callers look the user up again after a failure. */
export async function createUser(c: ForgeClientOptions, body: Record<string, unknown>): Promise<ForgeUser> {
    return (await call<ForgeUser>(c, "POST /admin/users", { body })).body;
}

/** [adminEditUser] Only the fields given are changed. */
export async function editUser(c: ForgeClientOptions, username: string, body: Record<string, unknown>): Promise<ForgeUser> {
    return (await call<ForgeUser>(c, "PATCH /admin/users/{username}", { params: { username }, body })).body;
}

/** [adminDeleteUser] False when the user was already gone. */
export async function deleteUser(c: ForgeClientOptions, username: string, purge: boolean): Promise<boolean> {
    try {
        await call(c, "DELETE /admin/users/{username}", { params: { username }, query: { purge } });
        return true;
    } catch (err) {
        if (isForgeStatus(err, 404)) {
            return false;
        }
        throw err;
    }
}

/** [userGetTokens] Every token of the user (Basic auth as that user), all pages. */
export async function listTokens(c: ForgeClientOptions, basic: BasicAuth): Promise<ForgeToken[]> {
    const all: ForgeToken[] = [];
    for (let page = 1; page <= 20; page++) {
        const res = await call<ForgeToken[]>(c, "GET /users/{username}/tokens", {
            params: { username: basic.username },
            query: { page, limit: 50 },
            basic,
        });
        const batch = Array.isArray(res.body) ? res.body : [];
        all.push(...batch);
        if (batch.length < 50) {
            break;
        }
    }
    return all;
}

/** [userCreateToken] Mints a token (Basic auth as that user). Not retried. */
export async function createToken(c: ForgeClientOptions, basic: BasicAuth, name: string, scopes: string[]): Promise<ForgeToken> {
    return (await call<ForgeToken>(c, "POST /users/{username}/tokens", { params: { username: basic.username }, body: { name, scopes }, basic })).body;
}

/** [userDeleteAccessToken] False when the token was already gone. */
export async function deleteToken(c: ForgeClientOptions, basic: BasicAuth, id: number | string): Promise<boolean> {
    try {
        await call(c, "DELETE /users/{username}/tokens/{token}", { params: { username: basic.username, token: id }, basic });
        return true;
    } catch (err) {
        if (isForgeStatus(err, 404)) {
            return false;
        }
        throw err;
    }
}

/** Splits `"owner/repo"`. */
export function splitRepo(full: string): { owner: string; repo: string } {
    const m = /^([\w.-]+)\/([\w.-]+)$/.exec(full);
    if (!m) {
        throw new Error(`not an "owner/repo" name: "${full}"`);
    }
    return { owner: m[1], repo: m[2] };
}

/** [repoGet] The repository, or undefined when Forgejo answers 404. */
export async function getRepo(c: ForgeClientOptions, full: string): Promise<{ id: number; full_name: string; private?: boolean } | undefined> {
    try {
        return (await call<{ id: number; full_name: string; private?: boolean }>(c, "GET /repos/{owner}/{repo}", { params: splitRepo(full) })).body;
    } catch (err) {
        if (isForgeStatus(err, 404)) {
            return undefined;
        }
        throw err;
    }
}

/** [repoCheckCollaborator] True on 204, false on 404 (not a collaborator, or no such repo). */
export async function isCollaborator(c: ForgeClientOptions, full: string, username: string): Promise<boolean> {
    try {
        await call(c, "GET /repos/{owner}/{repo}/collaborators/{collaborator}", { params: { ...splitRepo(full), collaborator: username } });
        return true;
    } catch (err) {
        if (isForgeStatus(err, 404)) {
            return false;
        }
        throw err;
    }
}

/** [repoAddCollaborator] Idempotent: PUT again answers 204 again. */
export async function addCollaborator(c: ForgeClientOptions, full: string, username: string, permission: "read" | "write" | "admin"): Promise<void> {
    await call(c, "PUT /repos/{owner}/{repo}/collaborators/{collaborator}", {
        params: { ...splitRepo(full), collaborator: username },
        body: { permission },
    });
}
