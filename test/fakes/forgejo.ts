/**
 * A faithful fake Forgejo: a real HTTP server on 127.0.0.1, port 0, answering
 * the `/api/v1` endpoints the deployer uses the way Forgejo's handlers do
 * (statuses and messages from `routers/api/v1/...` and the swagger in
 * ../shared/reference). State is plain data that tests inspect and seed.
 *
 * Covered: users (get, current, admin create/edit/delete with purge), access
 * tokens (list/create/delete, Basic auth only, text shown once), repositories
 * (get) and collaborators (check/add/remove). Each route lists the statuses it
 * can answer in `ROUTES`, and a test checks them against the swagger.
 *
 * Fault injection: `inject()` makes the next matching requests answer 5xx/429,
 * reset the connection, or answer slowly, either before or after the handler
 * did its work (the "answer lost after the change was made" case).
 *
 * Extending (orgs, repos, issue templates for the feedback hub): add entries to
 * `ROUTES` and handlers with `route()`; helpers `requireAdmin`, `json`, `fail`.
 */
import * as http from "http";
import type { AddressInfo, Socket } from "net";

export interface FakeUser {
    id: number;
    login: string;
    email: string;
    full_name: string;
    description: string;
    password: string;
    must_change_password: boolean;
    is_admin: boolean;
    source_id: number;
    login_name: string;
    visibility: string;
    created: string;
}

export interface FakeToken {
    id: number;
    userId: number;
    name: string;
    sha1: string;
    scopes: string[];
}

export interface FakeRepo {
    id: number;
    owner: string;
    name: string;
    private: boolean;
    /** login (lowercase) → permission */
    collaborators: Map<string, "read" | "write" | "admin">;
}

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

interface Ctx {
    req: http.IncomingMessage;
    params: Record<string, string>;
    query: URLSearchParams;
    body: any;
    doer?: FakeUser;
    basic: boolean;
}

interface Answer {
    status: number;
    body?: unknown;
}

type Handler = (ctx: Ctx) => Answer;

/** The routes the fake serves, with every status it can answer (checked against the swagger). */
export const ROUTES: Array<{ route: string; statuses: number[] }> = [
    { route: "GET /version", statuses: [200] },
    { route: "GET /user", statuses: [200, 401, 403] },
    { route: "GET /users/{username}", statuses: [200, 404] },
    { route: "POST /admin/users", statuses: [201, 400, 403, 422] },
    { route: "PATCH /admin/users/{username}", statuses: [200, 400, 403, 422] },
    { route: "DELETE /admin/users/{username}", statuses: [204, 403, 404, 422] },
    { route: "GET /users/{username}/tokens", statuses: [200, 403, 404] },
    { route: "POST /users/{username}/tokens", statuses: [201, 400, 403, 404] },
    { route: "DELETE /users/{username}/tokens/{token}", statuses: [204, 403, 404, 422] },
    { route: "GET /repos/{owner}/{repo}", statuses: [200, 404] },
    { route: "GET /repos/{owner}/{repo}/collaborators/{collaborator}", statuses: [204, 404, 422] },
    { route: "PUT /repos/{owner}/{repo}/collaborators/{collaborator}", statuses: [204, 403, 404, 422] },
    { route: "DELETE /repos/{owner}/{repo}/collaborators/{collaborator}", statuses: [204, 404, 422] },
];

/** Forgejo's token scopes (`models/auth/access_token_scope.go`). */
const SCOPES = new Set(
    ["activitypub", "admin", "issue", "misc", "notification", "organization", "package", "repository", "user"].flatMap((c) => [`read:${c}`, `write:${c}`]).concat(["all"]),
);
const RESERVED = new Set(["admin", "api", "assets", "explore", "issues", "login", "new", "org", "repo", "user", "users", "-", "."]);

export class FakeForgejo {
    readonly users = new Map<string, FakeUser>();
    readonly tokens: FakeToken[] = [];
    readonly repos = new Map<string, FakeRepo>();
    readonly requests: RecordedRequest[] = [];
    readonly adminToken: string;
    /** Passwords the fake's "breach list" holds (PasswordPwned). */
    readonly breached = new Set(["password1234", "correcthorsebatterystaple"]);
    minPasswordLength = 8;

    private nextId = 1;
    private readonly routes: Array<{ method: string; re: RegExp; names: string[]; handler: Handler }> = [];
    private readonly faults: Array<{ method?: string; path: RegExp; fault: Fault; times: number }> = [];
    private readonly sockets = new Set<Socket>();
    private server!: http.Server;
    url = "";

    private constructor(adminToken: string) {
        this.adminToken = adminToken;
        this.addUser({ login: "forge-admin", email: "admin@forge.test", is_admin: true, password: "admin-password-not-used" });
        this.defineRoutes();
    }

    static async start(opts: { adminToken?: string } = {}): Promise<FakeForgejo> {
        const fake = new FakeForgejo(opts.adminToken ?? "0123456789abcdef0123456789abcdef01234567");
        fake.server = http.createServer((req, res) => void fake.serve(req, res));
        fake.server.on("connection", (s: Socket) => {
            fake.sockets.add(s);
            s.on("close", () => fake.sockets.delete(s));
        });
        await new Promise<void>((resolve) => fake.server.listen(0, "127.0.0.1", resolve));
        fake.url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
        return fake;
    }

    async stop(): Promise<void> {
        for (const s of this.sockets) s.destroy();
        await new Promise<void>((resolve) => this.server.close(() => resolve()));
    }

    // ---- state helpers -------------------------------------------------

    addUser(u: Partial<FakeUser> & { login: string; email: string }): FakeUser {
        const user: FakeUser = {
            id: this.nextId++,
            full_name: "",
            description: "",
            password: "",
            must_change_password: false,
            is_admin: false,
            source_id: 0,
            login_name: "",
            visibility: "public",
            created: new Date(0).toISOString(),
            ...u,
        };
        this.users.set(user.login.toLowerCase(), user);
        return user;
    }

    user(login: string): FakeUser | undefined {
        return this.users.get(login.toLowerCase());
    }

    addRepo(full: string, opts: { private?: boolean } = {}): FakeRepo {
        const [owner, name] = full.split("/");
        const repo: FakeRepo = { id: this.nextId++, owner, name, private: opts.private ?? false, collaborators: new Map() };
        this.repos.set(full.toLowerCase(), repo);
        return repo;
    }

    tokensOf(login: string): FakeToken[] {
        const u = this.user(login);
        return u ? this.tokens.filter((t) => t.userId === u.id) : [];
    }

    collaborators(full: string): Record<string, string> {
        return Object.fromEntries(this.repos.get(full.toLowerCase())?.collaborators ?? []);
    }

    /** Requests matching `route` ("METHOD /path regexp"), e.g. `count("POST /admin/users")`. */
    count(method: string, path?: RegExp | string): number {
        const re = path === undefined ? /.*/ : typeof path === "string" ? new RegExp(`^${path}$`) : path;
        return this.requests.filter((r) => r.method === method && re.test(r.path)).length;
    }

    /** Makes the next `times` requests matching `method` and `path` fail as `fault` says. */
    inject(method: string | undefined, path: RegExp | string, fault: Fault, times = 1): void {
        const re = typeof path === "string" ? new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`) : path;
        this.faults.push({ method, path: re, fault, times });
    }

    clearFaults(): void {
        this.faults.length = 0;
    }

    /** Registers a handler; `pattern` like "GET /repos/{owner}/{repo}" (relative to /api/v1). */
    route(method: string, pattern: string, handler: Handler): void {
        const names: string[] = [];
        const re = new RegExp(`^${pattern.replace(/\{(\w+)\}/g, (_m, n: string) => (names.push(n), "([^/]+)"))}$`);
        this.routes.push({ method, re, names, handler });
    }

    // ---- serving -------------------------------------------------------

    private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const url = new URL(req.url ?? "/", "http://fake");
        const path = url.pathname.replace(/^\/api\/v1/, "");
        const header = req.headers.authorization;
        const record: RecordedRequest = {
            method: req.method ?? "GET",
            path,
            auth: !header ? "none" : /^basic /i.test(header) ? "basic" : "token",
            status: 0,
        };
        this.requests.push(record);

        const fault = this.takeFault(record.method, path);
        const when = fault?.when ?? "before";
        if (fault && when === "before") {
            if (await this.applyFault(fault, res, record)) return;
        }
        let answer: Answer;
        try {
            answer = this.handle(req, url, path, chunks);
        } catch (err) {
            answer = { status: 500, body: { message: String(err), url: this.url } };
        }
        if (fault && when === "after") {
            if (await this.applyFault(fault, res, record)) return;
        }
        record.status = answer.status;
        if (res.destroyed) return;
        res.statusCode = answer.status;
        if (answer.body !== undefined) {
            res.setHeader("content-type", "application/json;charset=utf-8");
            res.end(JSON.stringify(answer.body));
        } else {
            res.end();
        }
    }

    /** Applies a fault; true when it answered (so the handler's answer is dropped). */
    private async applyFault(fault: Fault, res: http.ServerResponse, record: RecordedRequest): Promise<boolean> {
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
        res.end(JSON.stringify({ message: `injected ${fault.status}`, url: this.url }));
        return true;
    }

    private takeFault(method: string, path: string): Fault | undefined {
        const i = this.faults.findIndex((f) => (!f.method || f.method === method) && f.path.test(path));
        if (i < 0) return undefined;
        const f = this.faults[i];
        if (--f.times <= 0) this.faults.splice(i, 1);
        return f.fault;
    }

    private handle(req: http.IncomingMessage, url: URL, path: string, chunks: Buffer[]): Answer {
        const method = req.method ?? "GET";
        const text = Buffer.concat(chunks).toString("utf8");
        let body: any = undefined;
        if (text) {
            try {
                body = JSON.parse(text);
            } catch {
                return fail(422, "invalid JSON body", this.url);
            }
        }
        // Authentication, as Forgejo's API middleware does it.
        const header = req.headers.authorization ?? "";
        let doer: FakeUser | undefined;
        let basic = false;
        if (/^(token|bearer) /i.test(header)) {
            const value = header.replace(/^\S+ /, "");
            const tok = this.tokens.find((t) => t.sha1 === value);
            doer = value === this.adminToken ? this.user("forge-admin") : tok ? [...this.users.values()].find((u) => u.id === tok.userId) : undefined;
            if (!doer) return fail(401, "user does not exist", this.url);
        } else if (/^basic /i.test(header)) {
            const [name, ...rest] = Buffer.from(header.slice(6), "base64").toString("utf8").split(":");
            const pass = rest.join(":");
            const u = this.user(name) ?? [...this.users.values()].find((x) => x.email.toLowerCase() === name.toLowerCase());
            if (!u || !u.password || u.password !== pass) return fail(401, "user's password is invalid", this.url);
            doer = u;
            basic = true;
        }
        if (doer?.must_change_password) {
            return fail(403, `You must change your password. Change it at: ${this.url}/user/change_password`, this.url);
        }
        for (const r of this.routes) {
            const m = r.method === method ? r.re.exec(path) : null;
            if (m) {
                const params = Object.fromEntries(r.names.map((n, i) => [n, decodeURIComponent(m[i + 1])]));
                return r.handler({ req, params, query: url.searchParams, body, doer, basic });
            }
        }
        return { status: 404, body: { errors: [], message: "The target couldn't be found.", url: this.url } };
    }

    // ---- Forgejo's behaviour --------------------------------------------

    /** Forgejo's `convert.ToUser`: email, login name and source only for admins and the user. */
    toUser(u: FakeUser, doer?: FakeUser): Record<string, unknown> {
        const privileged = !!doer && (doer.is_admin || doer.id === u.id);
        return {
            id: u.id,
            login: u.login,
            full_name: u.full_name,
            email: privileged ? u.email : "",
            description: u.description,
            is_admin: u.is_admin,
            visibility: u.visibility,
            created: u.created,
            ...(privileged && doer!.is_admin ? { login_name: u.login_name, source_id: u.source_id } : {}),
        };
    }

    requireAdmin(ctx: Ctx): Answer | undefined {
        if (!ctx.doer) return fail(401, "token is required", this.url);
        if (!ctx.doer.is_admin) return fail(403, "user should be the site admin", this.url);
        return undefined;
    }

    private notFound(): Answer {
        return { status: 404, body: { errors: [], message: "The target couldn't be found.", url: this.url } };
    }

    private passwordProblem(pw: string, forEdit: boolean): Answer | undefined {
        if (pw.length < this.minPasswordLength) {
            return forEdit ? fail(400, `password must be at least ${this.minPasswordLength} characters`, this.url) : fail(400, "PasswordIsRequired", this.url);
        }
        if (this.breached.has(pw)) return fail(400, forEdit ? "password has been pwned" : "PasswordPwned", this.url);
        return undefined;
    }

    private defineRoutes(): void {
        this.route("GET", "/version", () => json(200, { version: "12.0.0+fake" }));

        this.route("GET", "/user", (ctx) => (ctx.doer ? json(200, this.toUser(ctx.doer, ctx.doer)) : fail(401, "token is required", this.url)));

        this.route("GET", "/users/{username}", (ctx) => {
            const user = this.user(ctx.params.username);
            return user ? json(200, this.toUser(user, ctx.doer)) : this.notFound();
        });

        this.route("POST", "/admin/users", (ctx) => {
            const denied = this.requireAdmin(ctx);
            if (denied) return denied;
            const b = ctx.body ?? {};
            if (!b.username) return fail(422, "[Username]: Required", this.url);
            if (!b.email) return fail(422, "[Email]: Required", this.url);
            const weak = this.passwordProblem(String(b.password ?? ""), false);
            if (weak) return weak;
            const name = String(b.username);
            if (RESERVED.has(name.toLowerCase())) return fail(422, `name is reserved [name: ${name}]`, this.url);
            if (!/^[\da-zA-Z][\w.-]*$/.test(name) || /[-._]{2,}|[-._]$/.test(name)) {
                return fail(422, `name is invalid [${name}]: must be valid alpha or numeric or dash(-_) or dot characters`, this.url);
            }
            if (this.user(name)) return fail(422, `user already exists [name: ${name}]`, this.url);
            const email = String(b.email);
            if (!/^[^\s@]+@[^\s@]+$/.test(email)) return fail(422, `e-mail invalid [email: ${email}]`, this.url);
            if ([...this.users.values()].some((x) => x.email.toLowerCase() === email.toLowerCase())) {
                return fail(422, `e-mail already in use [email: ${email}]`, this.url);
            }
            const user = this.addUser({
                login: name,
                email,
                full_name: String(b.full_name ?? ""),
                password: String(b.password),
                must_change_password: b.must_change_password ?? true, // Forgejo's default
                login_name: String(b.login_name ?? ""),
                visibility: b.visibility ?? "public",
            });
            return json(201, this.toUser(user, ctx.doer));
        });

        this.route("PATCH", "/admin/users/{username}", (ctx) => {
            const denied = this.requireAdmin(ctx);
            if (denied) return denied;
            const user = this.user(ctx.params.username);
            if (!user) return this.notFound();
            const b = ctx.body ?? {};
            if ((b.source_id !== undefined) !== (b.login_name !== undefined)) {
                return fail(422, "source_id and login_name must be specified together", this.url);
            }
            if (b.password) {
                const weak = this.passwordProblem(String(b.password), true);
                if (weak) return weak;
            }
            if (b.email !== undefined) {
                const email = String(b.email);
                if (!/^[^\s@]+@[^\s@]+$/.test(email)) return fail(400, `e-mail invalid [email: ${email}]`, this.url);
                if ([...this.users.values()].some((x) => x.id !== user.id && x.email.toLowerCase() === email.toLowerCase())) {
                    return fail(400, `e-mail already in use [email: ${email}]`, this.url);
                }
                user.email = email;
            }
            if (b.password) user.password = String(b.password);
            if (b.must_change_password !== undefined) user.must_change_password = !!b.must_change_password;
            if (b.full_name !== undefined) user.full_name = String(b.full_name);
            if (b.description !== undefined) user.description = String(b.description);
            if (b.source_id !== undefined) {
                user.source_id = Number(b.source_id);
                user.login_name = String(b.login_name);
            }
            return json(200, this.toUser(user, ctx.doer));
        });

        this.route("DELETE", "/admin/users/{username}", (ctx) => {
            const denied = this.requireAdmin(ctx);
            if (denied) return denied;
            const user = this.user(ctx.params.username);
            if (!user) return this.notFound();
            if (user.id === ctx.doer!.id) return fail(422, "you cannot delete yourself", this.url);
            const owned = [...this.repos.entries()].filter(([, r]) => r.owner.toLowerCase() === user.login.toLowerCase());
            const purge = ctx.query.get("purge") === "true";
            if (owned.length > 0 && !purge) {
                return fail(422, `user still has ownership of repositories [uid: ${user.id}]`, this.url);
            }
            for (const [key] of owned) this.repos.delete(key);
            for (const r of this.repos.values()) r.collaborators.delete(user.login.toLowerCase());
            for (let i = this.tokens.length - 1; i >= 0; i--) if (this.tokens[i].userId === user.id) this.tokens.splice(i, 1);
            this.users.delete(user.login.toLowerCase());
            return { status: 204 };
        });

        // Tokens: reqBasicOrRevProxyAuth + reqSelfOrAdmin, as in routers/api/v1/api.go.
        const tokenGate = (ctx: Ctx): { user?: FakeUser; answer?: Answer } => {
            if (!ctx.basic) return { answer: fail(401, "auth required", this.url) };
            const user = this.user(ctx.params.username);
            if (!user) return { answer: this.notFound() };
            if (ctx.doer!.id !== user.id && !ctx.doer!.is_admin) {
                return { answer: fail(403, "doer should be the site admin or the user himself", this.url) };
            }
            return { user };
        };
        const tokenJson = (t: FakeToken, withText: boolean) => ({
            id: t.id,
            name: t.name,
            sha1: withText ? t.sha1 : "",
            token_last_eight: t.sha1.slice(-8),
            scopes: t.scopes,
        });

        this.route("GET", "/users/{username}/tokens", (ctx) => {
            const { user, answer } = tokenGate(ctx);
            if (answer) return answer;
            const limit = Number(ctx.query.get("limit") ?? 30);
            const page = Number(ctx.query.get("page") ?? 1);
            const mine = this.tokens.filter((t) => t.userId === user!.id);
            return json(200, mine.slice((page - 1) * limit, page * limit).map((t) => tokenJson(t, false)));
        });

        this.route("POST", "/users/{username}/tokens", (ctx) => {
            const { user, answer } = tokenGate(ctx);
            if (answer) return answer;
            const b = ctx.body ?? {};
            if (!b.name) return fail(400, "[Name]: Required", this.url);
            if (this.tokens.some((t) => t.userId === user!.id && t.name === b.name)) {
                return fail(400, "access token name has been used already", this.url);
            }
            const scopes: string[] = Array.isArray(b.scopes) ? b.scopes : [];
            if (scopes.length === 0 || scopes.some((s) => !SCOPES.has(s))) {
                return fail(400, `invalid access token scope provided`, this.url);
            }
            const sha1 = require("crypto").randomBytes(20).toString("hex") as string;
            const token: FakeToken = { id: this.nextId++, userId: user!.id, name: String(b.name), sha1, scopes };
            this.tokens.push(token);
            return json(201, tokenJson(token, true));
        });

        this.route("DELETE", "/users/{username}/tokens/{token}", (ctx) => {
            const { user, answer } = tokenGate(ctx);
            if (answer) return answer;
            const key = ctx.params.token;
            const matches = this.tokens.filter((t) => t.userId === user!.id && (String(t.id) === key || t.name === key));
            if (matches.length === 0) return this.notFound();
            if (matches.length > 1) return fail(422, "multiple matches for token name", this.url);
            this.tokens.splice(this.tokens.indexOf(matches[0]), 1);
            return { status: 204 };
        });

        // Repositories and collaborators.
        const repoOf = (ctx: Ctx) => {
            const repo = this.repos.get(`${ctx.params.owner}/${ctx.params.repo}`.toLowerCase());
            if (!repo) return undefined;
            const seen = !repo.private || (!!ctx.doer && (ctx.doer.is_admin || repo.collaborators.has(ctx.doer.login.toLowerCase())));
            return seen ? repo : undefined;
        };
        this.route("GET", "/repos/{owner}/{repo}", (ctx) => {
            const repo = repoOf(ctx);
            return repo ? json(200, { id: repo.id, name: repo.name, full_name: `${repo.owner}/${repo.name}`, private: repo.private, owner: { login: repo.owner } }) : this.notFound();
        });
        this.route("GET", "/repos/{owner}/{repo}/collaborators/{collaborator}", (ctx) => {
            const repo = repoOf(ctx);
            if (!repo) return this.notFound();
            if (!this.user(ctx.params.collaborator)) return fail(422, `user does not exist [uid: 0, name: ${ctx.params.collaborator}]`, this.url);
            return repo.collaborators.has(ctx.params.collaborator.toLowerCase()) ? { status: 204 } : this.notFound();
        });
        this.route("PUT", "/repos/{owner}/{repo}/collaborators/{collaborator}", (ctx) => {
            const repo = repoOf(ctx);
            if (!repo) return this.notFound();
            if (!ctx.doer || !(ctx.doer.is_admin || ctx.doer.login.toLowerCase() === repo.owner.toLowerCase())) {
                return fail(403, "user should be an owner or a collaborator with admin write of a repository", this.url);
            }
            const who = this.user(ctx.params.collaborator);
            if (!who) return fail(422, `user does not exist [uid: 0, name: ${ctx.params.collaborator}]`, this.url);
            const permission = ctx.body?.permission ?? "write";
            if (!["read", "write", "admin"].includes(permission)) return fail(422, "[Permission]: invalid permission", this.url);
            repo.collaborators.set(who.login.toLowerCase(), permission);
            return { status: 204 };
        });
        this.route("DELETE", "/repos/{owner}/{repo}/collaborators/{collaborator}", (ctx) => {
            const repo = repoOf(ctx);
            if (!repo) return this.notFound();
            const who = this.user(ctx.params.collaborator);
            if (!who) return fail(422, `user does not exist [uid: 0, name: ${ctx.params.collaborator}]`, this.url);
            repo.collaborators.delete(who.login.toLowerCase());
            return { status: 204 };
        });
    }
}

export function json(status: number, body: unknown): Answer {
    return { status, body };
}

/** Forgejo's error body: `{ message, url }`. */
export function fail(status: number, message: string, url: string): Answer {
    return { status, body: { message, url: `${url}/api/swagger` } };
}
