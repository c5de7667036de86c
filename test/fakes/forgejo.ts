/**
 * A faithful fake Forgejo: a real HTTP server on 127.0.0.1, port 0, answering
 * the `/api/v1` endpoints the deployer uses the way Forgejo's handlers do
 * (statuses and messages from `routers/api/v1/...` and the swagger in
 * ../shared/reference). State is plain data that tests inspect and seed.
 *
 * Covered: users (get, current, admin create/edit/delete with purge), access
 * tokens (list/create/delete, Basic auth only, text shown once), organizations
 * (list, get, create, delete, list repos), repositories (get, create in an org,
 * delete), file contents (get file or directory, create, update, with git blob
 * SHAs) and collaborators (check/add/remove). Each route lists the statuses it
 * can answer in `ROUTES`, and a test checks them against the swagger; the few
 * statuses Forgejo's handlers answer without documenting them are listed apart,
 * in `undocumented`, each with the reason.
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
import { ForgeError } from "../../providers/forge/client";
import { OAUTH_ROUTES, defineOAuthRoutes, type FakeOAuthApp } from "./forgejo-oauth";


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
    description: string;
    default_branch: string;
    /** No commit yet: the contents API answers 404 until a file is created. */
    empty: boolean;
    /** login (lowercase) → permission */
    collaborators: Map<string, "read" | "write" | "admin">;
    /** Path → content on the default branch. */
    files: Map<string, FakeFile>;
}

export interface FakeFile {
    content: Buffer;
    /** The git blob SHA-1 of `content`, as Forgejo reports it. */
    sha: string;
}

/** An organization: in Forgejo a user of type "organization", sharing the users' namespace. */
export interface FakeOrg {
    id: number;
    name: string;
    full_name: string;
    description: string;
    visibility: "public" | "limited" | "private";
    /** Logins (lowercase) in the Owners team; the creator is put there. */
    owners: Set<string>;
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
export const ROUTES: Array<{ route: string; statuses: number[]; undocumented?: Array<[number, string]> }> = [
    { route: "GET /version", statuses: [200] },
    { route: "GET /user", statuses: [200, 401, 403] },
    { route: "GET /users/{username}", statuses: [200, 404] },
    { route: "GET /admin/users", statuses: [200, 403] },
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
    { route: "GET /orgs", statuses: [200] },
    { route: "POST /orgs", statuses: [201, 403, 422] },
    { route: "GET /orgs/{org}", statuses: [200, 404] },
    {
        route: "DELETE /orgs/{org}",
        statuses: [204, 404],
        undocumented: [
            [403, "reqOrgOwnership refuses a non-owner"],
            [500, "org.DeleteOrganization fails with ErrUserOwnRepos while the org owns repositories, and the API handler answers 500"],
        ],
    },
    { route: "GET /orgs/{org}/repos", statuses: [200, 404] },
    {
        route: "POST /orgs/{org}/repos",
        statuses: [201, 403, 404],
        undocumented: [
            [409, "CreateUserRepo answers 409 when the name is taken"],
            [422, "binding errors and reserved names"],
        ],
    },
    { route: "DELETE /repos/{owner}/{repo}", statuses: [204, 403, 404] },
    { route: "GET /repos/{owner}/{repo}/contents/{filepath}", statuses: [200, 404] },
    { route: "POST /repos/{owner}/{repo}/contents/{filepath}", statuses: [201, 403, 404, 422] },
    { route: "PUT /repos/{owner}/{repo}/contents/{filepath}", statuses: [200, 403, 404, 422] },
    ...OAUTH_ROUTES,
];

/** Forgejo's token scopes (`models/auth/access_token_scope.go`). */
const SCOPES = new Set(
    ["activitypub", "admin", "issue", "misc", "notification", "organization", "package", "repository", "user"].flatMap((c) => [`read:${c}`, `write:${c}`]).concat(["all"]),
);
const RESERVED = new Set(["admin", "api", "assets", "explore", "issues", "login", "new", "org", "repo", "user", "users", "-", "."]);

/**
 * Forgejo's check of an address an admin sets (modules/validation/email.go,
 * validateEmailBasic): most malformed addresses fail its character pattern
 * first, so the usual message is "contains unsupported character".
 */
export function emailProblem(email: string): string | undefined {
    const pattern = /^[a-zA-Z0-9.!#$%&'*+\-/=?^_`{|}~]*@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;
    if (email.length === 0) return `e-mail invalid [email: ${email}]`;
    if (!pattern.test(email)) return `e-mail address contains unsupported character [email: ${email}]`;
    if (email.startsWith("-") || email.startsWith("@")) return `e-mail invalid [email: ${email}]`;
    return undefined;
}

export class FakeForgejo {
    readonly users = new Map<string, FakeUser>();
    readonly tokens: FakeToken[] = [];
    readonly repos = new Map<string, FakeRepo>();
    /** name (lowercase) → organization */
    readonly orgs = new Map<string, FakeOrg>();
    /** Whether non-admin users may create organizations (Forgejo's `service.DEFAULT_ALLOW_CREATE_ORGANIZATION`). */
    allowCreateOrganization = true;
    readonly requests: RecordedRequest[] = [];
    /** OAuth2 applications (test/fakes/forgejo-oauth.ts), each its user's. */
    readonly oauthApps: FakeOAuthApp[] = [];
    readonly adminToken: string;
    /** Passwords the fake's "breach list" holds (PasswordPwned). */
    readonly breached = new Set(["password1234", "correcthorsebatterystaple"]);
    minPasswordLength = 8;

    private nextId = 1;
    private readonly routes: Array<{ method: string; re: RegExp; names: string[]; handler: Handler }> = [];
    private readonly faults: FaultQueue = [];
    private readonly sockets = new Set<Socket>();
    private server!: http.Server;
    url = "";

    private constructor(adminToken: string) {
        this.adminToken = adminToken;
        this.addUser({ login: "forge-admin", email: "admin@forge.test", is_admin: true, password: "admin-password-not-used" });
        this.defineRoutes();
        defineOAuthRoutes(this, this.oauthApps);
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

    /** Seeds a repository; `files` (path → text) are on its default branch. */
    addRepo(full: string, opts: { private?: boolean; description?: string; empty?: boolean; files?: Record<string, string> } = {}): FakeRepo {
        const [owner, name] = full.split("/");
        const repo: FakeRepo = {
            id: this.nextId++,
            owner,
            name,
            private: opts.private ?? false,
            description: opts.description ?? "",
            default_branch: "main",
            empty: opts.empty ?? false,
            collaborators: new Map(),
            files: new Map(),
        };
        for (const [p, text] of Object.entries(opts.files ?? {})) {
            repo.files.set(p, blob(Buffer.from(text, "utf8")));
            repo.empty = false;
        }
        this.repos.set(full.toLowerCase(), repo);
        return repo;
    }

    /** Seeds an organization. */
    addOrg(name: string, opts: Partial<Omit<FakeOrg, "id" | "name" | "owners">> & { owners?: string[] } = {}): FakeOrg {
        const org: FakeOrg = {
            id: this.nextId++,
            name,
            full_name: opts.full_name ?? "",
            description: opts.description ?? "",
            visibility: opts.visibility ?? "public",
            owners: new Set((opts.owners ?? []).map((o) => o.toLowerCase())),
        };
        this.orgs.set(name.toLowerCase(), org);
        return org;
    }

    org(name: string): FakeOrg | undefined {
        return this.orgs.get(name.toLowerCase());
    }

    repo(full: string): FakeRepo | undefined {
        return this.repos.get(full.toLowerCase());
    }

    /** The text of a file on a repo's default branch. */
    file(full: string, filepath: string): string | undefined {
        return this.repo(full)?.files.get(filepath)?.content.toString("utf8");
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
        // `{filepath}` spans slashes, as Forgejo's `/contents/*` does.
        const re = new RegExp(`^${pattern.replace(/\{(\w+)\}/g, (_m, n: string) => (names.push(n), n === "filepath" ? "(.+)" : "([^/]+)"))}$`);
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

        const fault = takeFault(this.faults, record.method, path);
        const when = fault?.when ?? "before";
        if (fault && when === "before") {
            if (await applyFault(fault, res, record, this.url)) return;
        }
        let answer: Answer;
        try {
            answer = this.handle(req, url, path, chunks);
        } catch (err) {
            answer = { status: 500, body: { message: String(err), url: this.url } };
        }
        if (fault && when === "after") {
            if (await applyFault(fault, res, record, this.url)) return;
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
            if (user) return json(200, this.toUser(user, ctx.doer));
            // An organization is a user of another type: GET /users/{name} finds it too.
            const org = this.visibleOrg(ctx.params.username, ctx.doer);
            return org ? json(200, { id: org.id, login: org.name, full_name: org.full_name, email: "", description: org.description, is_admin: false, visibility: org.visibility, created: new Date(0).toISOString() }) : this.notFound();
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
            if (this.user(name) || this.org(name)) return fail(422, `user already exists [name: ${name}]`, this.url);
            const email = String(b.email);
            const badEmail = emailProblem(email);
            if (badEmail) return fail(422, `[Email]: ${badEmail}`, this.url); // the form binding's field prefix
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
                const badEmail = emailProblem(email);
                if (badEmail) return fail(400, badEmail, this.url);
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
            const repo = this.repo(`${ctx.params.owner}/${ctx.params.repo}`);
            if (!repo) return undefined;
            const org = this.org(repo.owner);
            if (org && !this.visibleOrg(org.name, ctx.doer)) return undefined;
            const seen = !repo.private || this.repoAccess(repo, ctx.doer) !== "none";
            return seen ? repo : undefined;
        };
        this.route("GET", "/repos/{owner}/{repo}", (ctx) => {
            const repo = repoOf(ctx);
            return repo ? json(200, this.toRepo(repo)) : this.notFound();
        });
        // repoDelete: reqToken + reqOwner (repo owner, org owner or site admin).
        this.route("DELETE", "/repos/{owner}/{repo}", (ctx) => {
            if (!ctx.doer) return fail(401, "token is required", this.url);
            const repo = repoOf(ctx);
            if (!repo) return this.notFound();
            if (this.repoAccess(repo, ctx.doer) !== "owner") return fail(403, "user should be the owner of the repo", this.url);
            this.repos.delete(`${repo.owner}/${repo.name}`.toLowerCase());
            return { status: 204 };
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

        this.defineOrgRoutes(repoOf);
        this.defineContentRoutes(repoOf);
    }

    /** Forgejo's `convert.ToRepo`, the fields a client reads. */
    toRepo(repo: FakeRepo): Record<string, unknown> {
        const owner = this.user(repo.owner) ?? this.org(repo.owner);
        const full = `${repo.owner}/${repo.name}`;
        return {
            id: repo.id,
            name: repo.name,
            full_name: full,
            owner: { id: owner?.id ?? 0, login: owner && "login" in owner ? owner.login : (owner?.name ?? repo.owner) },
            description: repo.description,
            private: repo.private,
            empty: repo.empty,
            default_branch: repo.default_branch,
            html_url: `${this.url}/${full}`,
            clone_url: `${this.url}/${full}.git`,
        };
    }

    /** Forgejo's `convert.ToOrganization`. */
    toOrg(org: FakeOrg): Record<string, unknown> {
        return {
            id: org.id,
            name: org.name,
            username: org.name,
            full_name: org.full_name,
            description: org.description,
            visibility: org.visibility,
            avatar_url: "",
            website: "",
            location: "",
            email: "",
            repo_admin_change_team_access: false,
        };
    }

    /** The organization, when `doer` may see it (private: members and admins; limited: signed-in users). */
    visibleOrg(name: string, doer?: FakeUser): FakeOrg | undefined {
        const org = this.org(name);
        if (!org) return undefined;
        if (org.visibility === "public") return org;
        if (!doer) return undefined;
        if (org.visibility === "limited" || doer.is_admin || org.owners.has(doer.login.toLowerCase())) return org;
        return undefined;
    }

    /** What `doer` may do in `repo`: owner (owner, org owner, site admin), write, read or none. */
    repoAccess(repo: FakeRepo, doer?: FakeUser): "owner" | "write" | "read" | "none" {
        if (!doer) return repo.private ? "none" : "read";
        const login = doer.login.toLowerCase();
        if (doer.is_admin || repo.owner.toLowerCase() === login || this.org(repo.owner)?.owners.has(login)) return "owner";
        const p = repo.collaborators.get(login);
        if (p === "admin" || p === "write") return "write";
        if (p === "read" || !repo.private) return "read";
        return "none";
    }

    private defineOrgRoutes(repoOf: (ctx: Ctx) => FakeRepo | undefined): void {
        const page = <T>(ctx: Ctx, all: T[]): T[] => {
            const limit = Math.max(1, Number(ctx.query.get("limit") ?? 30));
            const n = Math.max(1, Number(ctx.query.get("page") ?? 1));
            return all.slice((n - 1) * limit, n * limit);
        };
        // adminSearchUsers: site admins only; every account, a page at a time (users only, not organizations).
        this.route("GET", "/admin/users", (ctx) => {
            const refused = this.requireAdmin(ctx);
            if (refused) return refused;
            return json(200, page(ctx, [...this.users.values()]).map((u) => this.toUser(u, ctx.doer)));
        });

        this.route("GET", "/orgs", (ctx) => {
            const seen = [...this.orgs.values()].filter((o) => this.visibleOrg(o.name, ctx.doer));
            return json(200, page(ctx, seen).map((o) => this.toOrg(o)));
        });

        // orgCreate: reqToken; the doer must be allowed to create organizations and becomes an owner.
        this.route("POST", "/orgs", (ctx) => {
            if (!ctx.doer) return fail(401, "token is required", this.url);
            if (!ctx.doer.is_admin && !this.allowCreateOrganization) return fail(403, "user not allowed to create organizations", this.url);
            const b = ctx.body ?? {};
            if (!b.username) return fail(422, "[Username]: Required", this.url);
            const name = String(b.username);
            if (RESERVED.has(name.toLowerCase())) return fail(422, `name is reserved [name: ${name}]`, this.url);
            if (!/^[\da-zA-Z][\w.-]*$/.test(name) || /[-._]{2,}|[-._]$/.test(name) || name.length > 40) {
                return fail(422, `name is invalid [${name}]: must be valid alpha or numeric or dash(-_) or dot characters`, this.url);
            }
            const visibility = b.visibility ?? "public";
            if (!["", "public", "limited", "private"].includes(visibility)) return fail(422, "[Visibility]: invalid", this.url);
            if (this.user(name) || this.org(name)) return fail(422, `user already exists [name: ${name}]`, this.url);
            const org = this.addOrg(name, {
                full_name: String(b.full_name ?? ""),
                description: String(b.description ?? ""),
                visibility: (visibility || "public") as FakeOrg["visibility"],
                owners: [ctx.doer.login],
            });
            return json(201, this.toOrg(org));
        });

        this.route("GET", "/orgs/{org}", (ctx) => {
            const org = this.visibleOrg(ctx.params.org, ctx.doer);
            return org ? json(200, this.toOrg(org)) : this.notFound();
        });

        this.route("DELETE", "/orgs/{org}", (ctx) => {
            if (!ctx.doer) return fail(401, "token is required", this.url);
            const org = this.visibleOrg(ctx.params.org, ctx.doer);
            if (!org) return this.notFound();
            if (!ctx.doer.is_admin && !org.owners.has(ctx.doer.login.toLowerCase())) return fail(403, "Must be an organization owner", this.url);
            if ([...this.repos.values()].some((r) => r.owner.toLowerCase() === org.name.toLowerCase())) {
                // Forgejo: org.DeleteOrganization → ErrUserOwnRepos, answered as a 500 by the API handler.
                return fail(500, `user still has ownership of repositories [uid: ${org.id}]`, this.url);
            }
            this.orgs.delete(org.name.toLowerCase());
            return { status: 204 };
        });

        this.route("GET", "/orgs/{org}/repos", (ctx) => {
            const org = this.visibleOrg(ctx.params.org, ctx.doer);
            if (!org) return this.notFound();
            const mine = [...this.repos.values()].filter(
                (r) => r.owner.toLowerCase() === org.name.toLowerCase() && repoOf({ ...ctx, params: { owner: r.owner, repo: r.name } }),
            );
            return json(200, page(ctx, mine).map((r) => this.toRepo(r)));
        });

        // createOrgRepo: a site admin, or a member allowed to create repos in the org (here: its owners).
        this.route("POST", "/orgs/{org}/repos", (ctx) => {
            if (!ctx.doer) return fail(401, "token is required", this.url);
            const org = this.visibleOrg(ctx.params.org, ctx.doer);
            if (!org) return this.notFound();
            if (!ctx.doer.is_admin && !org.owners.has(ctx.doer.login.toLowerCase())) {
                return fail(403, "Given user is not allowed to create repository in organization.", this.url);
            }
            const b = ctx.body ?? {};
            if (!b.name) return fail(422, "[Name]: Required", this.url);
            const name = String(b.name);
            if (!/^[\w.-]+$/.test(name) || name.length > 100) {
                return fail(422, "[Name]: should contain only alphanumeric, dash ('-'), underscore ('_') and dot ('.') characters", this.url);
            }
            if ([".", "..", "-"].includes(name)) return fail(422, `name is reserved [name: ${name}]`, this.url);
            const pattern = ["*.git", "*.rss", "*.atom", "*.wiki"].find((p) => name.toLowerCase().endsWith(p.slice(1)));
            if (pattern) return fail(422, `name pattern is not allowed [pattern: ${pattern}]`, this.url);
            if (this.repo(`${org.name}/${name}`)) return fail(409, "The repository with the same name already exists.", this.url);
            const repo = this.addRepo(`${org.name}/${name}`, { private: !!b.private, description: String(b.description ?? ""), empty: true });
            repo.default_branch = String(b.default_branch || "main");
            if (b.auto_init) {
                repo.files.set("README.md", blob(Buffer.from(`# ${name}\n\n${repo.description}\n`, "utf8")));
                repo.empty = false;
            }
            return json(201, this.toRepo(repo));
        });
    }

    /** The contents API on the default branch (other refs and branches answer 404, as a missing branch does). */
    private defineContentRoutes(repoOf: (ctx: Ctx) => FakeRepo | undefined): void {
        const entry = (repo: FakeRepo, p: string, f?: FakeFile): Record<string, unknown> => {
            const base = `${this.url}/api/v1/repos/${repo.owner}/${repo.name}/contents/${p}`;
            const common = { name: p.split("/").pop(), path: p, url: `${base}?ref=${repo.default_branch}`, html_url: `${this.url}/${repo.owner}/${repo.name}/src/branch/${repo.default_branch}/${p}` };
            return f
                ? { ...common, type: "file", sha: f.sha, size: f.content.length, encoding: "base64", content: f.content.toString("base64"), download_url: `${this.url}/${repo.owner}/${repo.name}/raw/branch/${repo.default_branch}/${p}` }
                : { ...common, type: "dir", sha: "", size: 0, encoding: null, content: null, download_url: null };
        };
        const badPath = (p: string) => p.startsWith("/") || p.split("/").some((seg) => seg === "" || seg === "." || seg === ".." || seg === ".git");
        const writeGate = (ctx: Ctx): { repo?: FakeRepo; answer?: Answer } => {
            if (!ctx.doer) return { answer: fail(401, "token is required", this.url) };
            const repo = repoOf(ctx);
            if (!repo) return { answer: this.notFound() };
            if (!["owner", "write"].includes(this.repoAccess(repo, ctx.doer))) return { answer: fail(403, "user should have a permission to write to a repo", this.url) };
            const b = ctx.body ?? {};
            if (typeof b.content !== "string") return { answer: fail(422, "[Content]: Required", this.url) };
            if (b.branch && b.branch !== repo.default_branch && !repo.empty) return { answer: fail(404, `branch does not exist [name: ${b.branch}]`, this.url) };
            if (badPath(ctx.params.filepath)) return { answer: fail(422, `path contains a malformed path component [path: ${ctx.params.filepath}]`, this.url) };
            if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b.content.replace(/\s/g, ""))) return { answer: fail(422, "illegal base64 data", this.url) };
            return { repo };
        };
        const written = (repo: FakeRepo, p: string, f: FakeFile, message: string) => ({
            content: entry(repo, p, f),
            commit: { sha: require("crypto").randomBytes(20).toString("hex"), message: `${message}\n` },
        });

        this.route("GET", "/repos/{owner}/{repo}/contents/{filepath}", (ctx) => {
            const repo = repoOf(ctx);
            if (!repo) return this.notFound();
            // Forgejo's GetContentsOrList: an empty repo lists every path as an empty directory.
            if (repo.empty) return json(200, []);
            const ref = ctx.query.get("ref");
            if (ref && ref !== repo.default_branch) return this.notFound();
            const p = ctx.params.filepath.replace(/\/+$/, "");
            const f = repo.files.get(p);
            if (f) return json(200, entry(repo, p, f));
            const children = new Map<string, FakeFile | undefined>();
            for (const [q, qf] of repo.files) {
                if (!q.startsWith(`${p}/`)) continue;
                const rest = q.slice(p.length + 1);
                const slash = rest.indexOf("/");
                children.set(`${p}/${slash < 0 ? rest : rest.slice(0, slash)}`, slash < 0 ? qf : undefined);
            }
            if (children.size === 0) return this.notFound();
            return json(200, [...children].sort(([a], [b]) => a.localeCompare(b)).map(([q, qf]) => entry(repo, q, qf)));
        });

        this.route("POST", "/repos/{owner}/{repo}/contents/{filepath}", (ctx) => {
            const { repo, answer } = writeGate(ctx);
            if (answer) return answer;
            const p = ctx.params.filepath;
            if (repo!.files.has(p)) return fail(422, `repository file already exists [path: ${p}]`, this.url);
            const parts = p.split("/");
            for (let i = 1; i < parts.length; i++) {
                const dir = parts.slice(0, i).join("/");
                if (repo!.files.has(dir)) return fail(422, `a file exists where you’re trying to create a subdirectory [path: ${dir}]`, this.url);
            }
            if ([...repo!.files.keys()].some((q) => q.startsWith(`${p}/`))) return fail(422, `a directory exists where you’re trying to create a file [path: ${p}]`, this.url);
            const f = blob(Buffer.from(ctx.body.content, "base64"));
            repo!.files.set(p, f);
            repo!.empty = false;
            return json(201, written(repo!, p, f, ctx.body.message || `Add ${p}`));
        });

        this.route("PUT", "/repos/{owner}/{repo}/contents/{filepath}", (ctx) => {
            const { repo, answer } = writeGate(ctx);
            if (answer) return answer;
            const p = ctx.params.filepath;
            if (!ctx.body.sha) return fail(422, "[SHA]: Required", this.url);
            const old = repo!.files.get(p);
            if (!old) return fail(404, `repository file does not exist [path: ${p}]`, this.url);
            if (old.sha !== ctx.body.sha) return fail(422, `sha does not match [given: ${ctx.body.sha}, expected: ${old.sha}]`, this.url);
            const f = blob(Buffer.from(ctx.body.content, "base64"));
            repo!.files.set(p, f);
            return json(200, written(repo!, p, f, ctx.body.message || `Update ${p}`));
        });
    }
}

/** A file with its git blob SHA-1 (`sha1("blob <size>\0" + content)`), as git and Forgejo name it. */
export function blob(content: Buffer): FakeFile {
    const sha = require("crypto").createHash("sha1").update(`blob ${content.length}\0`).update(content).digest("hex") as string;
    return { content, sha };
}

export function json(status: number, body: unknown): Answer {
    return { status, body };
}

/** Forgejo's error body: `{ message, url }`. */
export function fail(status: number, message: string, url: string): Answer {
    return { status, body: { message, url: `${url}/api/swagger` } };
}

/** A client call's HTTP status and Forgejo's message, whether it succeeded or threw a ForgeError. */
export async function forgeStatus(p: Promise<{ status: number }>): Promise<{ status: number; message: string }> {
    try {
        return { status: (await p).status, message: "" };
    } catch (err) {
        if (err instanceof ForgeError) return { status: err.status, message: err.forgeMessage };
        throw err;
    }
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
