/**
 * The fake Forgejo's OAuth2 applications (`/user/applications/oauth2`), as
 * `routers/api/v1/user/app.go` serves them: each belongs to the user whose
 * token calls; the client secret is in the answer to a create and to an update
 * only (Forgejo's update always issues a new one); another user's application
 * is a 404. What the real server does beyond this (the authorization-code flow)
 * is proven on the real Forgejo (test/forge-oauth-real.test.ts).
 */
import { randomBytes, randomUUID } from "crypto";
import type { FakeForgejo } from "./forgejo";
import { fail, json } from "./forgejo-http";

export interface FakeOAuthApp {
    id: number;
    /** The user the application belongs to. */
    uid: number;
    name: string;
    client_id: string;
    client_secret: string;
    redirect_uris: string[];
    confidential_client: boolean;
    created: string;
}

/** The routes below, with every status they can answer (checked against the swagger with the others). */
export const OAUTH_ROUTES = [
    { route: "GET /user/applications/oauth2", statuses: [200, 401] },
    { route: "POST /user/applications/oauth2", statuses: [201, 400, 401] },
    { route: "GET /user/applications/oauth2/{id}", statuses: [200, 401, 404] },
    { route: "PATCH /user/applications/oauth2/{id}", statuses: [200, 401, 404] },
    { route: "DELETE /user/applications/oauth2/{id}", statuses: [204, 401, 404] },
];

/** Forgejo's `convert.ToOAuth2Application`: never the secret. */
function shown(a: FakeOAuthApp, withSecret = false): Record<string, unknown> {
    const { uid: _uid, client_secret, ...rest } = a;
    return withSecret ? { ...rest, client_secret } : rest;
}

/** The body's problem, as Forgejo's binding and `CreateOrUpdateOAuth2Application` would say it. */
function bodyProblem(body: any): string | undefined {
    if (!body || typeof body.name !== "string" || body.name.trim() === "") return "[Name]: Required";
    if (!Array.isArray(body.redirect_uris) || body.redirect_uris.some((u: unknown) => typeof u !== "string" || !/^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(u))) {
        return "invalid redirect URI";
    }
    return undefined;
}

/** Registers the OAuth2 application routes on `fake`; the applications live in `fake.oauthApps`. */
export function defineOAuthRoutes(fake: FakeForgejo, apps: FakeOAuthApp[]): void {
    let nextId = 1;
    const secret = () => `gto_${randomBytes(26).toString("base64url").toLowerCase().slice(0, 52)}`;
    const mine = (uid: number, id: string) => apps.find((a) => a.uid === uid && String(a.id) === id);
    const notFound = () => fail(404, "Oauth2 application not found", fake.url);

    // The web UI's authorize endpoint, outside the API: without a session, the real
    // Forgejo sends every browser to its login page (any client id), 303.
    fake.route("GET", "/login/oauth/authorize", () => ({ status: 303, location: "/user/login" }));

    fake.route("GET", "/user/applications/oauth2", (ctx) => {
        if (!ctx.doer) return fail(401, "token is required", fake.url);
        const page = Math.max(1, Number(ctx.query.get("page") ?? 1));
        const limit = Math.min(50, Math.max(1, Number(ctx.query.get("limit") ?? 30)));
        const own = apps.filter((a) => a.uid === ctx.doer!.id);
        return json(200, own.slice((page - 1) * limit, page * limit).map((a) => shown(a)));
    });

    fake.route("POST", "/user/applications/oauth2", (ctx) => {
        if (!ctx.doer) return fail(401, "token is required", fake.url);
        const problem = bodyProblem(ctx.body);
        if (problem) return fail(400, problem, fake.url);
        const app: FakeOAuthApp = {
            id: nextId++,
            uid: ctx.doer.id,
            name: ctx.body.name,
            client_id: randomUUID(),
            client_secret: secret(),
            redirect_uris: [...ctx.body.redirect_uris],
            confidential_client: ctx.body.confidential_client !== false,
            created: new Date().toISOString(),
        };
        apps.push(app);
        return json(201, shown(app, true));
    });

    fake.route("GET", "/user/applications/oauth2/{id}", (ctx) => {
        if (!ctx.doer) return fail(401, "token is required", fake.url);
        const app = mine(ctx.doer.id, ctx.params.id);
        return app ? json(200, shown(app)) : notFound();
    });

    fake.route("PATCH", "/user/applications/oauth2/{id}", (ctx) => {
        if (!ctx.doer) return fail(401, "token is required", fake.url);
        const app = mine(ctx.doer.id, ctx.params.id);
        if (!app) return notFound();
        // Forgejo's update checks nothing the create would refuse with 400 (it answers 500 then): the fake keeps to what is documented.
        Object.assign(app, { name: ctx.body.name, redirect_uris: [...ctx.body.redirect_uris], confidential_client: ctx.body.confidential_client !== false, client_secret: secret() });
        return json(200, shown(app, true));
    });

    fake.route("DELETE", "/user/applications/oauth2/{id}", (ctx) => {
        if (!ctx.doer) return fail(401, "token is required", fake.url);
        const i = apps.findIndex((a) => a.uid === ctx.doer!.id && String(a.id) === ctx.params.id);
        if (i < 0) return notFound();
        apps.splice(i, 1);
        return { status: 204 };
    });
}
