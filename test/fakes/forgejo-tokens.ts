/**
 * The fake Forgejo's access tokens (`/users/{username}/tokens`), as
 * `routers/api/v1/api.go` guards them: Basic auth only (reqBasicOrRevProxyAuth),
 * the user himself or a site admin (reqSelfOrAdmin); the token's text is in the
 * answer to its create only; scopes are Forgejo's (`access_token_scope.go`).
 */
import { randomBytes } from "crypto";
import type { FakeForgejo } from "./forgejo";
import { fail, json, type Answer, type Ctx, type RouteStatuses } from "./forgejo-http";
import type { FakeToken, FakeUser } from "./forgejo-model";

/** The routes below, with every status they can answer (checked against the swagger with the others). */
export const TOKEN_ROUTES: RouteStatuses[] = [
    { route: "GET /users/{username}/tokens", statuses: [200, 403, 404] },
    { route: "POST /users/{username}/tokens", statuses: [201, 400, 403, 404] },
    { route: "DELETE /users/{username}/tokens/{token}", statuses: [204, 403, 404, 422] },
];

/** Forgejo's token scopes (`models/auth/access_token_scope.go`). */
const SCOPES = new Set(
    ["activitypub", "admin", "issue", "misc", "notification", "organization", "package", "repository", "user"].flatMap((c) => [`read:${c}`, `write:${c}`]).concat(["all"]),
);

function tokenJson(t: FakeToken, withText: boolean): Record<string, unknown> {
    return {
        id: t.id,
        name: t.name,
        sha1: withText ? t.sha1 : "",
        token_last_eight: t.sha1.slice(-8),
        scopes: t.scopes,
    };
}

/** Registers the token routes on `fake`; the tokens live in `fake.tokens`. */
export function defineTokenRoutes(fake: FakeForgejo): void {
    // reqBasicOrRevProxyAuth + reqSelfOrAdmin, as in routers/api/v1/api.go.
    const tokenGate = (ctx: Ctx): { user?: FakeUser; answer?: Answer } => {
        if (!ctx.basic) return { answer: fail(401, "auth required", fake.url) };
        const user = fake.user(ctx.params.username);
        if (!user) return { answer: fake.notFound() };
        if (ctx.doer!.id !== user.id && !ctx.doer!.is_admin) {
            return { answer: fail(403, "doer should be the site admin or the user himself", fake.url) };
        }
        return { user };
    };

    fake.route("GET", "/users/{username}/tokens", (ctx) => {
        const { user, answer } = tokenGate(ctx);
        if (answer) return answer;
        const limit = Number(ctx.query.get("limit") ?? 30);
        const page = Number(ctx.query.get("page") ?? 1);
        const mine = fake.tokens.filter((t) => t.userId === user!.id);
        return json(200, mine.slice((page - 1) * limit, page * limit).map((t) => tokenJson(t, false)));
    });

    fake.route("POST", "/users/{username}/tokens", (ctx) => {
        const { user, answer } = tokenGate(ctx);
        if (answer) return answer;
        const b = ctx.body ?? {};
        if (!b.name) return fail(400, "[Name]: Required", fake.url);
        if (fake.tokens.some((t) => t.userId === user!.id && t.name === b.name)) {
            return fail(400, "access token name has been used already", fake.url);
        }
        const scopes: string[] = Array.isArray(b.scopes) ? b.scopes : [];
        if (scopes.length === 0 || scopes.some((s) => !SCOPES.has(s))) {
            return fail(400, `invalid access token scope provided`, fake.url);
        }
        const sha1 = randomBytes(20).toString("hex");
        const token: FakeToken = { id: fake.newId(), userId: user!.id, name: String(b.name), sha1, scopes };
        fake.tokens.push(token);
        return json(201, tokenJson(token, true));
    });

    fake.route("DELETE", "/users/{username}/tokens/{token}", (ctx) => {
        const { user, answer } = tokenGate(ctx);
        if (answer) return answer;
        const key = ctx.params.token;
        const matches = fake.tokens.filter((t) => t.userId === user!.id && (String(t.id) === key || t.name === key));
        if (matches.length === 0) return fake.notFound();
        if (matches.length > 1) return fail(422, "multiple matches for token name", fake.url);
        fake.tokens.splice(fake.tokens.indexOf(matches[0]), 1);
        return { status: 204 };
    });
}
