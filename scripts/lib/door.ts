/**
 * The front door's health for `npm run status`, pure: what an unauthenticated request
 * for the cockpit saw (the hops the probe followed on the gateway), judged against this
 * environment's Forge login. The same rule as the health step (components/scripts/health.sh):
 * locked = refused (401/403) or sent to the Forge's authorize endpoint with this client id
 * and redirect URI; a 2xx is a door open to anyone. No network here.
 */
import { forgeOAuthEndpoints, HERO_SERVICES, proxyRedirectUri } from "../../components/hero-cli";
import type { HttpProbe } from "./health";

const COCKPIT_PATH = HERO_SERVICES.cockpit.webPath ?? "/hero_cockpit/web/";

/** Redirects followed on the gateway's own origin (hero_proxy's `/login` hop) before giving up. */
export const DOOR_MAX_HOPS = 4;

/** One answer on the way: the URL asked, its status, and where it redirected (absolute). */
export interface DoorHop {
    url: string;
    status: number;
    location?: string;
}

/** What the probe of the cockpit saw. */
export interface DoorProbe {
    url: string;
    hops: DoorHop[];
    /** Why the last request had no answer, if so. */
    error?: HttpProbe["error"];
}

/** What the door must send to: this environment's Forge login. */
export interface DoorExpect {
    authorizeUrl: string;
    clientId: string;
    redirectUri: string;
}

export type DoorState = "locked" | "open" | "elsewhere" | "down" | "no login recorded";

export interface DoorVerdict {
    state: DoorState;
    /** One short phrase for the table and the problems list. */
    note: string;
    /** Where the Forge must answer (the authorize URL as sent, or the bare one); set when locked. */
    loginUrl?: string;
}

/** The expected login from an environment's outputs, or undefined when the stack recorded none (deployed before it). */
export function doorExpect(env: { cockpitUrl?: string; forgeUrl?: string; oauthClientId?: string }): DoorExpect | undefined {
    if (!env.oauthClientId || !env.forgeUrl || !env.cockpitUrl) return undefined;
    const gateway = env.cockpitUrl.endsWith(COCKPIT_PATH) ? env.cockpitUrl.slice(0, -COCKPIT_PATH.length) : new URL(env.cockpitUrl).origin;
    return { authorizeUrl: forgeOAuthEndpoints(env.forgeUrl).authorize, clientId: env.oauthClientId, redirectUri: proxyRedirectUri(gateway) };
}

/** Whether the probe should follow `location` from `from`: a hop on the gateway's own origin that is not the Forge login. */
export function followOnGateway(from: string, location: string, authorizeUrl: string | undefined): boolean {
    if (authorizeUrl && location.startsWith(`${authorizeUrl}?`)) return false;
    return new URL(location).origin === new URL(from).origin;
}

export function judgeDoor(p: DoorProbe, e: DoorExpect | undefined): DoorVerdict {
    const last = p.hops.at(-1);
    if (!last) return { state: "down", note: p.error ? `cockpit ${p.error.kind === "tls" ? "certificate invalid" : p.error.kind === "timeout" ? "timeout" : "down"}` : "cockpit down" };
    if (last.status >= 200 && last.status < 300) return { state: "open", note: "open without login" };
    if (!e) return { state: "no login recorded", note: "no login recorded" };
    if (last.status === 401 || last.status === 403) return { state: "locked", note: `refused without login (${last.status})`, loginUrl: e.authorizeUrl };
    if (last.status >= 300 && last.status < 400 && last.location) {
        if (!last.location.startsWith(`${e.authorizeUrl}?`)) {
            return { state: "elsewhere", note: p.hops.length > DOOR_MAX_HOPS ? "login redirects in a loop" : `login redirects elsewhere (${new URL(last.location).host})` };
        }
        const q = new URL(last.location).searchParams;
        if (q.get("client_id") !== e.clientId) return { state: "elsewhere", note: `login of another client id (${q.get("client_id") ?? "none"})` };
        if (q.get("redirect_uri") !== e.redirectUri) return { state: "elsewhere", note: `login returns to another URL (${q.get("redirect_uri") ?? "none"})` };
        return { state: "locked", note: "Forge login", loginUrl: last.location };
    }
    return { state: "down", note: `cockpit down (${last.status})` };
}
