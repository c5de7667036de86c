/**
 * A demo user's Forge login for Hero Proxy: an OAuth2 application on the Forge
 * (Forgejo `POST /user/applications/oauth2`), one per environment, owned by the
 * admin whose token the stack holds. Its redirect URI is the user's gateway
 * URL plus hero_proxy's callback path (a guess, kept in components/hero-cli.ts).
 *
 * The application's name carries this stack's ownership marker
 * (providers/ownership.ts): it has no description. Create looks up first: an
 * application of the admin's carrying this stack's marker and this user's name
 * is this stack's own leftover (a create whose answer was lost, or that crashed
 * before Pulumi wrote state), and is claimed by PATCH, which makes Forgejo issue
 * a new client secret: the old one was never recorded. Another stack's
 * application is never touched (its name differs).
 *
 * Every update rotates the client secret (Forgejo's PATCH always does);
 * `pulumi up --replace` on it rotates it explicitly. Replacement deletes first,
 * since the new application would otherwise claim the old by its name. Delete
 * treats 404 as done.
 *
 * Implementation only for now: the resource class, its shim and the wiring
 * into the program come with the proxy secrets. `check` and `diff` make no
 * network calls.
 */
import type * as pulumi from "@pulumi/pulumi";
import { ForgeClientOptions, ForgeError, ForgeSettings, backoffMs, call, clientOptionsFrom, explain, forgeSettingsFrom, isForgeStatus, pause } from "./client";
import { markerOwner, ownerMarker, type StackIdentity } from "../ownership";
import { proxyRedirectUri } from "../../components/hero-cli";

/** Pulumi's placeholder for a value not known during preview. */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export interface ForgeOAuthAppInputs {
    /** The demo user whose front door this application serves. */
    username: string;
    /** The user's gateway URL, e.g. `https://devalice.gent02.grid.tf`. */
    gatewayUrl: string;
    stack: string;
    stackId: string;
}

export interface ForgeOAuthAppOutputs extends ForgeOAuthAppInputs {
    /** The application's id on the Forge. */
    appId: number;
    name: string;
    clientId: string;
    /** Secret: shown by the Forge once, at create and at each rotation. */
    clientSecret: string;
    redirectUri: string;
    /** True when this create claimed a leftover of this stack's instead of making a new one. */
    claimed: boolean;
}

interface ForgeOAuthApp {
    id: number;
    name: string;
    client_id: string;
    client_secret?: string;
    redirect_uris?: string[];
    confidential_client?: boolean;
}

/** The application's name on the Forge: the user and this stack's marker. */
export function oauthAppName(username: string, identity: StackIdentity): string {
    return `Hero OS demo login for ${username} ${ownerMarker(identity)}`;
}

/** The redirect URI hero_proxy is assumed to serve: the one the proxy config carries too (components/hero-cli.ts). */
export const oauthRedirectUri = proxyRedirectUri;

export function checkOAuthApp(news: Partial<ForgeOAuthAppInputs>): pulumi.dynamic.CheckResult<ForgeOAuthAppInputs> {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    const inputs = { ...news } as ForgeOAuthAppInputs;
    if (news.username !== UNKNOWN && (typeof news.username !== "string" || !/^[\da-zA-Z][\w.-]*$/.test(news.username))) {
        failures.push({ property: "username", reason: "username must be a Forge login" });
    }
    if (news.gatewayUrl !== UNKNOWN) {
        let ok = false;
        try {
            const u = new URL(String(news.gatewayUrl));
            ok = u.protocol === "https:" && !u.username && !u.password && u.search === "" && u.hash === "";
        } catch {
            ok = false;
        }
        if (!ok) failures.push({ property: "gatewayUrl", reason: `gatewayUrl must be an https:// URL without credentials, query or fragment, not ${JSON.stringify(news.gatewayUrl)}` });
    }
    if (typeof news.stack !== "string" || !/^\S+\/\S+\/\S+$/.test(news.stack)) failures.push({ property: "stack", reason: 'stack must be "<organization>/<project>/<stack>"' });
    if (typeof news.stackId !== "string" || !/^[0-9a-f]{8}$/.test(news.stackId)) failures.push({ property: "stackId", reason: "stackId must be 8 hex digits" });
    return { inputs, failures };
}

/** A new user or stack replaces the application (delete first); a new gateway URL patches it, rotating the secret. */
export function diffOAuthApp(olds: Partial<ForgeOAuthAppOutputs>, news: Partial<ForgeOAuthAppInputs>): pulumi.dynamic.DiffResult & { changed: string[] } {
    const replaces = (["username", "stackId"] as const).filter((k) => news[k] === UNKNOWN || news[k] !== olds[k]);
    if (replaces.length > 0) return { changes: true, replaces: [...replaces], deleteBeforeReplace: true, changed: [...replaces] };
    const changed = news.gatewayUrl === UNKNOWN || news.gatewayUrl !== olds.gatewayUrl ? ["gatewayUrl"] : [];
    return { changes: changed.length > 0, replaces: [], deleteBeforeReplace: true, changed };
}

interface OAuthAppProvider extends pulumi.dynamic.ResourceProvider<ForgeOAuthAppInputs, ForgeOAuthAppOutputs> {
    settings?: ForgeSettings;
    client(): ForgeClientOptions;
}

export const forgeOAuthAppProvider: OAuthAppProvider = {
    settings: undefined,

    async configure(req) {
        this.settings = forgeSettingsFrom(req.config, "purgeAccountsOnTeardown");
    },

    client() {
        return clientOptionsFrom(this.settings);
    },

    async check(_olds, news) {
        return checkOAuthApp(news);
    },

    async diff(_id, olds, news) {
        return diffOAuthApp(olds, news);
    },

    async create(inputs) {
        const c = this.client();
        const identity = { stack: inputs.stack, id: inputs.stackId };
        const name = oauthAppName(inputs.username, identity);
        const body = { name, redirect_uris: [oauthRedirectUri(inputs.gatewayUrl)], confidential_client: true };
        for (let attempt = 0; ; attempt++) {
            const leftover = (await listApps(c)).find((a) => a.name === name && markerOwner(a.name, identity).kind === "ours");
            try {
                const app = leftover
                    ? (await call<ForgeOAuthApp>(c, "PATCH /user/applications/oauth2/{id}", { params: { id: leftover.id }, body })).body
                    : (await call<ForgeOAuthApp>(c, "POST /user/applications/oauth2", { body })).body;
                return { id: String(app.id), outs: outputs(inputs, app, !!leftover) };
            } catch (err) {
                if (err instanceof ForgeError && err.retryable && attempt < 3) {
                    await pause(backoffMs(c, attempt)); // the answer may be lost after the Forge made it: look again
                    continue;
                }
                throw explainApp(err, inputs.username);
            }
        }
    },

    async read(id, stored) {
        const props = stored as ForgeOAuthAppOutputs;
        try {
            const app = await getApp(this.client(), props.appId || Number(id));
            if (!app) return { id: "", props: {} as ForgeOAuthAppOutputs };
            return { id: String(app.id), props: { ...props, name: app.name, clientId: app.client_id, redirectUri: app.redirect_uris?.[0] ?? props.redirectUri } };
        } catch (err) {
            throw explainApp(err, props.username);
        }
    },

    async update(id, olds, news) {
        try {
            const c = this.client();
            const name = oauthAppName(news.username, { stack: news.stack, id: news.stackId });
            const body = { name, redirect_uris: [oauthRedirectUri(news.gatewayUrl)], confidential_client: true };
            const app = (await call<ForgeOAuthApp>(c, "PATCH /user/applications/oauth2/{id}", { params: { id: olds.appId || Number(id) }, body })).body;
            return { outs: outputs(news, app, olds.claimed) };
        } catch (err) {
            if (isForgeStatus(err, 404)) {
                throw explain(err as ForgeError, `the Forge login application of "${news.username}" is gone from the Forge; run \`pulumi refresh\`, then \`pulumi up\` creates a new one`);
            }
            throw explainApp(err, news.username);
        }
    },

    async delete(id, props) {
        try {
            await call(this.client(), "DELETE /user/applications/oauth2/{id}", { params: { id: props.appId || Number(id) } });
        } catch (err) {
            if (isForgeStatus(err, 404)) return; // already gone
            throw explainApp(err, props.username);
        }
    },
};

/** [userGetOAuth2Applications] The admin's applications, all pages. */
export async function listApps(c: ForgeClientOptions): Promise<ForgeOAuthApp[]> {
    const all: ForgeOAuthApp[] = [];
    for (let page = 1; page <= 20; page++) {
        const batch = (await call<ForgeOAuthApp[]>(c, "GET /user/applications/oauth2", { query: { page, limit: 50 } })).body ?? [];
        all.push(...batch);
        if (batch.length < 50) break;
    }
    return all;
}

/** [userGetOAuth2Application] One of the admin's applications, or undefined when it is gone. */
export async function getApp(c: ForgeClientOptions, id: number): Promise<ForgeOAuthApp | undefined> {
    try {
        return (await call<ForgeOAuthApp>(c, "GET /user/applications/oauth2/{id}", { params: { id } })).body;
    } catch (err) {
        if (isForgeStatus(err, 404)) return undefined;
        throw err;
    }
}

function outputs(inputs: ForgeOAuthAppInputs, app: ForgeOAuthApp, claimed: boolean): ForgeOAuthAppOutputs {
    if (!app.client_secret) throw new ForgeError("POST /user/applications/oauth2", 200, "the answer carries no client secret", false);
    return {
        username: inputs.username,
        gatewayUrl: inputs.gatewayUrl,
        stack: inputs.stack,
        stackId: inputs.stackId,
        appId: app.id,
        name: app.name,
        clientId: app.client_id,
        clientSecret: app.client_secret,
        redirectUri: app.redirect_uris?.[0] ?? oauthRedirectUri(inputs.gatewayUrl),
        claimed,
    };
}

function explainApp(err: unknown, username: string): unknown {
    if (!(err instanceof ForgeError) || err.explanation) return err;
    if (err.status === 401) {
        return explain(err, `Forge refused the token in config hero-os-grid-deployer:forgeToken (expired or revoked?); set a valid admin token with \`pulumi config set --secret forgeToken\``);
    }
    if (err.status === 403) {
        return explain(err, `the Forge token in config hero-os-grid-deployer:forgeToken may not manage OAuth2 applications (the login of "${username}"); it needs the write:user scope`);
    }
    return err;
}
