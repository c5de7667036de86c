/**
 * The fake Forgejo's users: the version, the current user, a user by name (an
 * organization is found there too), and the site admin's list, create, edit
 * and delete (with purge), with Forgejo's checks of names, addresses and
 * passwords and `convert.ToUser`'s rule of who sees an address.
 */
import type { FakeForgejo } from "./forgejo";
import { fail, json, page, type Answer, type RouteStatuses } from "./forgejo-http";
import { RESERVED, type FakeUser } from "./forgejo-model";

/** The routes below, with every status they can answer (checked against the swagger with the others). */
export const USER_ROUTES: RouteStatuses[] = [
    { route: "GET /version", statuses: [200] },
    { route: "GET /user", statuses: [200, 401, 403] },
    { route: "GET /users/{username}", statuses: [200, 404] },
    { route: "GET /admin/users", statuses: [200, 403] },
    { route: "POST /admin/users", statuses: [201, 400, 403, 422] },
    { route: "PATCH /admin/users/{username}", statuses: [200, 400, 403, 422] },
    { route: "DELETE /admin/users/{username}", statuses: [204, 403, 404, 422] },
];

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

/** Forgejo's `convert.ToUser`: email, login name and source only for admins and the user. */
export function toUser(u: FakeUser, doer?: FakeUser): Record<string, unknown> {
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

/** Forgejo's password checks: the admin create answers the error's name, the edit its message. */
function passwordProblem(fake: FakeForgejo, pw: string, forEdit: boolean): Answer | undefined {
    if (pw.length < fake.minPasswordLength) {
        return forEdit ? fail(400, `password must be at least ${fake.minPasswordLength} characters`, fake.url) : fail(400, "PasswordIsRequired", fake.url);
    }
    if (fake.breached.has(pw)) return fail(400, forEdit ? "password has been pwned" : "PasswordPwned", fake.url);
    return undefined;
}

/** Registers the user routes on `fake`; the users live in `fake.users`. */
export function defineUserRoutes(fake: FakeForgejo): void {
    fake.route("GET", "/version", () => json(200, { version: "12.0.0+fake" }));

    fake.route("GET", "/user", (ctx) => (ctx.doer ? json(200, toUser(ctx.doer, ctx.doer)) : fail(401, "token is required", fake.url)));

    fake.route("GET", "/users/{username}", (ctx) => {
        const user = fake.user(ctx.params.username);
        if (user) return json(200, toUser(user, ctx.doer));
        // An organization is a user of another type: GET /users/{name} finds it too.
        const org = fake.visibleOrg(ctx.params.username, ctx.doer);
        return org ? json(200, { id: org.id, login: org.name, full_name: org.full_name, email: "", description: org.description, is_admin: false, visibility: org.visibility, created: new Date(0).toISOString() }) : fake.notFound();
    });

    // adminSearchUsers: site admins only; every account, a page at a time (users only, not organizations).
    fake.route("GET", "/admin/users", (ctx) => {
        const refused = fake.requireAdmin(ctx);
        if (refused) return refused;
        return json(200, page(ctx, [...fake.users.values()]).map((u) => toUser(u, ctx.doer)));
    });

    fake.route("POST", "/admin/users", (ctx) => {
        const denied = fake.requireAdmin(ctx);
        if (denied) return denied;
        const b = ctx.body ?? {};
        if (!b.username) return fail(422, "[Username]: Required", fake.url);
        if (!b.email) return fail(422, "[Email]: Required", fake.url);
        const weak = passwordProblem(fake, String(b.password ?? ""), false);
        if (weak) return weak;
        const name = String(b.username);
        if (RESERVED.has(name.toLowerCase())) return fail(422, `name is reserved [name: ${name}]`, fake.url);
        if (!/^[\da-zA-Z][\w.-]*$/.test(name) || /[-._]{2,}|[-._]$/.test(name)) {
            return fail(422, `name is invalid [${name}]: must be valid alpha or numeric or dash(-_) or dot characters`, fake.url);
        }
        if (fake.user(name) || fake.org(name)) return fail(422, `user already exists [name: ${name}]`, fake.url);
        const email = String(b.email);
        const badEmail = emailProblem(email);
        if (badEmail) return fail(422, `[Email]: ${badEmail}`, fake.url); // the form binding's field prefix
        if ([...fake.users.values()].some((x) => x.email.toLowerCase() === email.toLowerCase())) {
            return fail(422, `e-mail already in use [email: ${email}]`, fake.url);
        }
        const user = fake.addUser({
            login: name,
            email,
            full_name: String(b.full_name ?? ""),
            password: String(b.password),
            must_change_password: b.must_change_password ?? true, // Forgejo's default
            login_name: String(b.login_name ?? ""),
            visibility: b.visibility ?? "public",
        });
        return json(201, toUser(user, ctx.doer));
    });

    fake.route("PATCH", "/admin/users/{username}", (ctx) => {
        const denied = fake.requireAdmin(ctx);
        if (denied) return denied;
        const user = fake.user(ctx.params.username);
        if (!user) return fake.notFound();
        const b = ctx.body ?? {};
        if ((b.source_id !== undefined) !== (b.login_name !== undefined)) {
            return fail(422, "source_id and login_name must be specified together", fake.url);
        }
        if (b.password) {
            const weak = passwordProblem(fake, String(b.password), true);
            if (weak) return weak;
        }
        if (b.email !== undefined) {
            const email = String(b.email);
            const badEmail = emailProblem(email);
            if (badEmail) return fail(400, badEmail, fake.url);
            if ([...fake.users.values()].some((x) => x.id !== user.id && x.email.toLowerCase() === email.toLowerCase())) {
                return fail(400, `e-mail already in use [email: ${email}]`, fake.url);
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
        return json(200, toUser(user, ctx.doer));
    });

    fake.route("DELETE", "/admin/users/{username}", (ctx) => {
        const denied = fake.requireAdmin(ctx);
        if (denied) return denied;
        const user = fake.user(ctx.params.username);
        if (!user) return fake.notFound();
        if (user.id === ctx.doer!.id) return fail(422, "you cannot delete yourself", fake.url);
        const owned = [...fake.repos.entries()].filter(([, r]) => r.owner.toLowerCase() === user.login.toLowerCase());
        const purge = ctx.query.get("purge") === "true";
        if (owned.length > 0 && !purge) {
            return fail(422, `user still has ownership of repositories [uid: ${user.id}]`, fake.url);
        }
        for (const [key] of owned) fake.repos.delete(key);
        for (const r of fake.repos.values()) r.collaborators.delete(user.login.toLowerCase());
        for (let i = fake.tokens.length - 1; i >= 0; i--) if (fake.tokens[i].userId === user.id) fake.tokens.splice(i, 1);
        fake.users.delete(user.login.toLowerCase());
        return { status: 204 };
    });
}
