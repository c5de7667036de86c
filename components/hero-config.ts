/**
 * What the bootstrap gives the Hero tools to run: Hero Proc's one service definition and
 * Hero Proxy's config (routes and the Forge login). Pure: tests call it directly, and
 * `render.ts` puts the results into the steps' parameters. The shapes are guesses kept
 * beside the other guesses in `hero-cli.ts`.
 */
import { CATALOG, type ServiceName } from "../users/catalog";
import {
    forgeOAuthEndpoints,
    HERO_PATHS,
    HERO_SERVICES,
    PROC_DEFINITION_NAME,
    PROXY_CLIENT_SECRET,
    PROXY_PUBLIC_LISTEN,
    PROXY_SESSION_SECRET,
    proxyRedirectUri,
    type ProxyAuth,
} from "./hero-cli";

// ---------------------------------------------------------------- Hero Proc

export interface ProcDefinition {
    name: string;
    services: {
        name: string;
        description: string;
        depends_on: string[];
        actions: { name: string; exec: string; args: string[]; env: Record<string, string>; cwd: string; restart: "always" }[];
    }[];
}

/** Services Hero Proc runs for a selection (everything but hero_proc itself), in catalog order. */
export function managedServices(services: readonly ServiceName[]): ServiceName[] {
    return services.filter((s) => HERO_SERVICES[s].actions.length > 0);
}

/** The one Hero Proc service definition for a user's selection. */
export function renderServiceDefinition(services: readonly ServiceName[]): ProcDefinition {
    const managed = managedServices(services);
    return {
        name: PROC_DEFINITION_NAME,
        services: managed.map((s) => {
            const h = HERO_SERVICES[s];
            return {
                name: h.procName,
                description: CATALOG[s].description,
                depends_on: h.dependsOn.filter((d) => managed.includes(d)).map((d) => HERO_SERVICES[d].procName),
                actions: h.actions.map((a) => ({
                    name: a.name,
                    exec: `${HERO_PATHS.binDir}/${a.exec}`,
                    args: [...a.args],
                    env: { ...a.env },
                    cwd: HERO_PATHS.heroHome,
                    restart: "always" as const,
                })),
            };
        }),
    };
}

// ---------------------------------------------------------------- Hero Proxy

export interface ProxyRoute {
    path: string;
    auth_mode: "oauth";
    upstream?: string;
    redirect?: string;
}

export interface ProxyConfig {
    domain: string;
    /** Where the proxy listens once the door is locked (front-door switches it there last). */
    listen: string;
    auth: ProxyAuth;
    routes: ProxyRoute[];
}

/** The front door's Forge login, as the bootstrap renders it: no secret here. */
export interface LoginValues {
    /** The Forge OAuth2 application's client id. */
    clientId: string;
    /** Forge logins let in besides the user's own (stack config). */
    admins: readonly string[];
}

/** The user's login first, then the admins, each once (Forge logins ignore case). */
export function allowedUsers(forgeLogin: string, admins: readonly string[]): string[] {
    const out: string[] = [];
    for (const login of [forgeLogin, ...admins]) if (!out.some((u) => u.toLowerCase() === login.toLowerCase())) out.push(login);
    return out;
}

/**
 * Hero Proxy's front door: `/` lands on Hero Cockpit; each enabled service gets its
 * RPC route and, when it has one, its web UI route, all behind the Forge login with only
 * this user's Forge account (and the named admins) allowed. The client secret and the
 * session secret are named by their Hero Proc keys; their values reach the VM on the
 * front-door step's stdin only.
 */
export function renderProxyRoutes(a: {
    services: readonly ServiceName[];
    gatewayUrl: string;
    forgeUrl: string;
    forgeLogin: string;
    routerUrl: string;
    login: LoginValues;
}): ProxyConfig {
    const cockpit = HERO_SERVICES.cockpit.webPath ?? "/hero_cockpit/web/";
    const routes: ProxyRoute[] = [{ path: "/", redirect: cockpit, auth_mode: "oauth" }];
    for (const s of managedServices(a.services)) {
        const h = HERO_SERVICES[s];
        if (h.webPath) routes.push({ path: h.webPath, upstream: `${a.routerUrl}${h.webPath}`, auth_mode: "oauth" });
        routes.push({ path: `/${h.procName}/rpc/`, upstream: `${a.routerUrl}/${h.procName}/rpc/`, auth_mode: "oauth" });
    }
    const forge = forgeOAuthEndpoints(a.forgeUrl);
    return {
        domain: new URL(a.gatewayUrl).hostname,
        listen: PROXY_PUBLIC_LISTEN,
        auth: {
            mode: "oauth",
            provider: "forge",
            forge_url: a.forgeUrl,
            authorize_url: forge.authorize,
            token_url: forge.token,
            userinfo_url: forge.userinfo,
            client_id: a.login.clientId,
            redirect_uri: proxyRedirectUri(a.gatewayUrl),
            client_secret_key: PROXY_CLIENT_SECRET,
            session_secret_key: PROXY_SESSION_SECRET,
            allowed_users: allowedUsers(a.forgeLogin, a.login.admins),
        },
        routes,
    };
}
