/**
 * A faithful fake Forgejo: a real HTTP server on 127.0.0.1, port 0, answering
 * the `/api/v1` endpoints the deployer uses the way Forgejo's handlers do
 * (statuses and messages from `routers/api/v1/...` and the swagger in
 * ../shared/reference). State is plain data that tests inspect and seed.
 *
 * This file holds the server (start, stop), its state and the seeding helpers,
 * fault injection, and the access rules the routes share (`requireAdmin`,
 * `visibleOrg`, `repoAccess`). The routes are in one file per group, each
 * registering its handlers through `route()` and listing the statuses it can
 * answer, spread into `ROUTES`: users and admin users (forgejo-users.ts),
 * access tokens (forgejo-tokens.ts), repositories and collaborators
 * (forgejo-repos.ts), organizations and their repositories (forgejo-orgs.ts),
 * file contents with git blob SHAs (forgejo-contents.ts), OAuth2 applications
 * (forgejo-oauth.ts). A test checks `ROUTES` against the swagger; the few
 * statuses Forgejo's handlers answer without documenting them are listed apart,
 * in `undocumented`, each with the reason. Serving one request (auth, routing)
 * is in forgejo-serve.ts; the data types in forgejo-model.ts.
 *
 * Fault injection: `inject()` makes the next matching requests answer 5xx/429,
 * reset the connection, or answer slowly, either before or after the handler
 * did its work (the "answer lost after the change was made" case); see
 * forgejo-faults.ts.
 *
 * Extending: a new group gets its own file with its statuses and a
 * `define…Routes(fake)`, called from the constructor; helpers `json`, `fail`,
 * `page` (forgejo-http.ts), `requireAdmin`, `notFound`.
 */
import * as http from "http";
import type { AddressInfo, Socket } from "net";
import { defineContentRoutes, CONTENT_ROUTES } from "./forgejo-contents";
import type { Fault, FaultQueue, RecordedRequest } from "./forgejo-faults";
import { fail, type Answer, type Ctx, type Handler, type RouteStatuses } from "./forgejo-http";
import { blob, type FakeOrg, type FakeRepo, type FakeToken, type FakeUser } from "./forgejo-model";
import { defineOAuthRoutes, OAUTH_ROUTES, type FakeOAuthApp } from "./forgejo-oauth";
import { defineOrgRoutes, ORG_ROUTES } from "./forgejo-orgs";
import { defineRepoRoutes, REPO_ROUTES } from "./forgejo-repos";
import { compileRoute, serve, type Route } from "./forgejo-serve";
import { defineTokenRoutes, TOKEN_ROUTES } from "./forgejo-tokens";
import { defineUserRoutes, USER_ROUTES } from "./forgejo-users";

// What tests import from here, wherever it lives.
export { applyFault, takeFault, type Fault, type FaultQueue, type RecordedRequest } from "./forgejo-faults";
export { fail, forgeStatus, json } from "./forgejo-http";
export { blob, type FakeFile, type FakeOrg, type FakeRepo, type FakeToken, type FakeUser } from "./forgejo-model";
export { emailProblem } from "./forgejo-users";

/** The routes the fake serves, with every status it can answer (checked against the swagger). */
export const ROUTES: RouteStatuses[] = [...USER_ROUTES, ...TOKEN_ROUTES, ...REPO_ROUTES, ...ORG_ROUTES, ...CONTENT_ROUTES, ...OAUTH_ROUTES];

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
    private readonly routes: Route[] = [];
    private readonly faults: FaultQueue = [];
    private readonly sockets = new Set<Socket>();
    private server!: http.Server;
    url = "";

    private constructor(adminToken: string) {
        this.adminToken = adminToken;
        this.addUser({ login: "forge-admin", email: "admin@forge.test", is_admin: true, password: "admin-password-not-used" });
        defineUserRoutes(this);
        defineTokenRoutes(this);
        defineRepoRoutes(this);
        defineOrgRoutes(this);
        defineContentRoutes(this);
        defineOAuthRoutes(this, this.oauthApps);
    }

    static async start(opts: { adminToken?: string } = {}): Promise<FakeForgejo> {
        const fake = new FakeForgejo(opts.adminToken ?? "0123456789abcdef0123456789abcdef01234567");
        fake.server = http.createServer((req, res) => void serve(fake, fake.routes, fake.faults, req, res));
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

    /** The next id: users, organizations, repositories and tokens share one sequence. */
    newId(): number {
        return this.nextId++;
    }

    addUser(u: Partial<FakeUser> & { login: string; email: string }): FakeUser {
        const user: FakeUser = {
            id: this.newId(),
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
            id: this.newId(),
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
            id: this.newId(),
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
        this.routes.push(compileRoute(method, pattern, handler));
    }

    // ---- Forgejo's rules, shared by the routes ----------------------------

    requireAdmin(ctx: Ctx): Answer | undefined {
        if (!ctx.doer) return fail(401, "token is required", this.url);
        if (!ctx.doer.is_admin) return fail(403, "user should be the site admin", this.url);
        return undefined;
    }

    notFound(): Answer {
        return { status: 404, body: { errors: [], message: "The target couldn't be found.", url: this.url } };
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
}
