/**
 * Pure rendering for the bootstrap: the Hero Proc service definition, the Hero Proxy
 * routes, the cockpit settings, each step's parameters and the triggers. No Pulumi
 * here, so tests call it directly. `components/bundle.ts` puts the parameters and the
 * scripts into the one file shipped to each VM, and renders each step's short stdin.
 *
 * Every parameter reaches a script as a `HB_NAME='value'` line built by `shellQuote`.
 * The command line itself is constant (`bash -s -- <step>`), so no user data and no
 * secret is ever on a command line.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { CATALOG, isServiceName, type ServiceName } from "../users/catalog";
import type { DemoUser } from "../users/types";
import {
    BOOKS_COLLECTION,
    BYO_KEY_SLOTS,
    DEMO_NOTICE,
    FORGE_TOKEN_SECRET,
    HERO_CLI_SH,
    HERO_PATHS,
    HERO_SERVICES,
    PROXY_CLIENT_SECRET,
    PROXY_LOCAL_LISTEN,
    PROXY_SESSION_SECRET,
    ROUTER_ALLOW,
    ROUTER_LOOPBACK_URL,
    forgeOAuthEndpoints,
    labDownloadUrl,
    proxyRedirectUri,
    DOWNLOAD_TIMEOUT_SEC,
    INSTALL_TIMEOUT_SEC,
} from "./hero-cli";
import { renderProxyRoutes, renderServiceDefinition, type LoginValues } from "./hero-config";
import type { LabChannel } from "./settings";

export {
    allowedUsers,
    managedServices,
    renderProxyRoutes,
    renderServiceDefinition,
    type LoginValues,
    type ProcDefinition,
    type ProxyConfig,
    type ProxyRoute,
} from "./hero-config";

/** The bootstrap steps, in the order they run. */
export const STEPS = ["ready", "install", "services", "front-door", "cockpit-settings", "books", "health"] as const;
export type StepName = (typeof STEPS)[number];

// ---------------------------------------------------------------- quoting

/**
 * The one shell-quoting function: wraps `value` in single quotes, so that bash takes
 * it literally ($, `, \, ;, newlines and all). A single quote becomes `'\''`.
 * NUL cannot live in a shell string, so it is refused.
 */
export function shellQuote(value: string): string {
    if (value.includes("\0")) throw new Error("a shell parameter cannot contain a NUL byte");
    return `'${value.replace(/'/g, `'\\''`)}'`;
}

const PARAM_NAME_RE = /^HB_[A-Z0-9_]+$/;

/** `HB_X='...'` lines, one per parameter, every value through `shellQuote`. */
export function renderAssignments(params: Readonly<Record<string, string>>): string {
    return Object.entries(params)
        .map(([name, value]) => {
            if (!PARAM_NAME_RE.test(name)) throw new Error(`bad script parameter name ${JSON.stringify(name)}`);
            return `${name}=${shellQuote(value)}`;
        })
        .join("\n");
}

// ---------------------------------------------------------------- validation

const FORGE_LOGIN_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/;
const HOST_RE = /^(?:[0-9a-fA-F:]{2,39}|(?:\d{1,3}\.){3}\d{1,3}|[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?)$/;
const HTTP_URL_RE = /^https?:\/\/[A-Za-z0-9.-]+(?::\d{1,5})?(?:\/[A-Za-z0-9._~%/-]*)?$/;
const REPO_PATH_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const GIT_URL_RE = /^https:\/\/[A-Za-z0-9.@:-]+(?:\/[A-Za-z0-9._~%/-]*)?$/;
/** A Forge OAuth2 client id: Forgejo gives a UUID; anything plain of that alphabet passes. */
const CLIENT_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

function must(ok: boolean, what: string, value: string): void {
    if (!ok) throw new Error(`bootstrap: ${what} ${JSON.stringify(value)} is not valid`);
}

/** Throws on anything that is not a plain value of its kind. */
export function validateValues(v: StepValues): void {
    must(FORGE_LOGIN_RE.test(v.user.username), "username", v.user.username);
    must(FORGE_LOGIN_RE.test(v.forgeLogin), "Forge login", v.forgeLogin);
    must(HOST_RE.test(v.host), "VM host", v.host);
    must(HTTP_URL_RE.test(v.gatewayUrl), "gateway URL", v.gatewayUrl);
    must(HTTP_URL_RE.test(v.forgeUrl), "Forge URL", v.forgeUrl);
    must(REPO_PATH_RE.test(v.feedbackRepo), "feedback repo", v.feedbackRepo);
    must(GIT_URL_RE.test(v.booksRepo), "books repo URL (https only)", v.booksRepo);
    must(v.labChannel === "latest" || v.labChannel === "latest-dev", "lab channel", v.labChannel);
    for (const s of v.user.services) must(isServiceName(s), "service", s);
    must(CLIENT_ID_RE.test(v.login.clientId), "OAuth2 client id", v.login.clientId);
    for (const admin of v.login.admins) must(FORGE_LOGIN_RE.test(admin), "admin Forge login", admin);
}

// ---------------------------------------------------------------- inputs

/** The plain (non-secret) values the steps are rendered from. */
export interface StepValues {
    user: Pick<DemoUser, "username" | "fullName" | "email" | "services">;
    /** The VM's mycelium IP. */
    host: string;
    gatewayUrl: string;
    forgeUrl: string;
    forgeLogin: string;
    feedbackRepo: string;
    booksRepo: string;
    labChannel: LabChannel;
    /** The front door's Forge login (client id, admins); its secrets travel on front-door's stdin only. */
    login: LoginValues;
}

/** Where and how the scripts run. `defaultEnv` gives the real VM; tests override. */
export interface StepEnv {
    /** Prefix of every path the scripts touch. "" on a real VM. */
    root: string;
    /** hero_router as hero_proxy and the health step see it on the VM: loopback on a real VM. */
    routerUrl: string;
    /** Where `lab` is downloaded from when missing. */
    labUrl: string;
    /** The `lab` release that is (config `labRelease`), for messages. @default the labChannel */
    labRelease: string;
    /** What `lab` is checked against before it runs (config `labSha256`); "" when unset: the install step then stops. */
    labSha256: string;
    /** curl's `--proto`: "=https" on a real VM; a rehearsal's local download server speaks http. */
    curlProto: string;
    /** Time limit of one download (curl --max-time). */
    downloadTimeoutSec: number;
    /** Time limit of one `lab build … --install`, and of the Books import. */
    installTimeoutSec: number;
    readyTimeoutSec: number;
    healthTimeoutSec: number;
    /** Log lines shown on failure. */
    tailLines: number;
}

/** The real VM's environment. `host` (the VM's mycelium IP) is no longer used: hero_router is on loopback. */
export function defaultEnv(_host: string, labChannel: LabChannel, lab: { release?: string; sha256?: string } = {}): StepEnv {
    const labRelease = lab.release ?? labChannel;
    return {
        root: "",
        routerUrl: ROUTER_LOOPBACK_URL,
        labUrl: labDownloadUrl(labRelease),
        labRelease,
        labSha256: lab.sha256 ?? "",
        curlProto: "=https",
        downloadTimeoutSec: DOWNLOAD_TIMEOUT_SEC,
        installTimeoutSec: INSTALL_TIMEOUT_SEC,
        readyTimeoutSec: 600,
        healthTimeoutSec: 300,
        tailLines: 20,
    };
}

// ---------------------------------------------------------------- Hero Cockpit

export interface CockpitSettings {
    notice: string;
    production: false;
    user: { login: string; full_name: string; email: string };
    gateway_url: string;
    forge: { url: string; token_secret: string };
    feedback: { forge_url: string; repo: string };
    ai_keys: { provider: string; label: string; secret: string }[];
    services: { name: ServiceName; description: string; web?: string }[];
}

/** The cockpit settings: no secret in it, only the names of the secret slots. */
export function renderCockpitSettings(v: StepValues): CockpitSettings {
    return {
        notice: DEMO_NOTICE,
        production: false,
        user: { login: v.forgeLogin, full_name: v.user.fullName, email: v.user.email },
        gateway_url: v.gatewayUrl,
        forge: { url: v.forgeUrl, token_secret: FORGE_TOKEN_SECRET },
        feedback: { forge_url: v.forgeUrl, repo: v.feedbackRepo },
        ai_keys: BYO_KEY_SLOTS.map((k) => ({ ...k })),
        services: v.user.services.map((s) => ({ name: s, description: CATALOG[s].description, web: HERO_SERVICES[s].webPath })),
    };
}

// ---------------------------------------------------------------- scripts

const SCRIPTS_DIR = path.join(__dirname, "scripts");
const scriptCache = new Map<string, string>();

/** The text of `components/scripts/<name>.sh`. */
export function scriptText(name: StepName | "lib"): string {
    let text = scriptCache.get(name);
    if (text === undefined) {
        text = fs.readFileSync(path.join(SCRIPTS_DIR, `${name}.sh`), "utf8");
        scriptCache.set(name, text);
    }
    return text;
}

/** A short content digest: 12 hex characters of SHA-256. */
export function digest(text: string): string {
    return crypto.createHash("sha256").update(text).digest("hex").slice(0, 12);
}

/** Digest of everything a step runs: command forms, lib and its script. */
export function scriptDigest(step: StepName): string {
    return digest(HERO_CLI_SH + scriptText("lib") + scriptText(step));
}

/**
 * The parameters of one step, as its bundle function sets them. Never a secret: the
 * Forge token travels on cockpit-settings' stdin only, the login's client secret and
 * session secret on front-door's (components/bundle.ts).
 */
export function stepParams(step: StepName, v: StepValues, env: StepEnv): Record<string, string> {
    validateValues(v);
    const common = {
        HB_STEP: step,
        HB_ROOT: env.root,
        HB_BIN_DIR: HERO_PATHS.binDir,
        HB_LAB_PATH: HERO_PATHS.labPath,
        HB_CFG_DIR: HERO_PATHS.cfgDir,
        HB_STATE_DIR: HERO_PATHS.stateDir,
        HB_LOG_DIR: HERO_PATHS.logDir,
        HB_TAIL_LINES: String(env.tailLines),
    };
    const json = (x: unknown) => JSON.stringify(x, null, 2);
    switch (step) {
        case "ready":
            return { ...common, HB_READY_TIMEOUT: String(env.readyTimeoutSec) };
        case "install":
            return {
                ...common,
                HB_LAB_CHANNEL: v.labChannel,
                HB_LAB_URL: env.labUrl,
                HB_LAB_RELEASE: env.labRelease,
                HB_LAB_SHA256: env.labSha256,
                HB_CURL_PROTO: env.curlProto,
                HB_DOWNLOAD_TIMEOUT: String(env.downloadTimeoutSec),
                HB_INSTALL_TIMEOUT: String(env.installTimeoutSec),
                HB_INSTALL: v.user.services.map((s) => `${s} ${HERO_SERVICES[s].repo} ${HERO_SERVICES[s].primaryBinary}`).join("\n"),
            };
        case "services": {
            const def = renderServiceDefinition(v.user.services);
            return {
                ...common,
                HB_PROC_DEF_NAME: def.name,
                HB_PROC_DEF: json(def),
                HB_PROC_SERVICES: def.services.map((s) => `${s.name} ${digest(JSON.stringify(s))}`).join("\n"),
                // hero_router starts first and is locked (allowlist) before any other service starts.
                HB_ROUTER_PROC: HERO_SERVICES.router.procName,
                HB_ROUTER_ALLOW: ROUTER_ALLOW.join("\n"),
            };
        }
        case "front-door": {
            const proxy = renderProxyRoutes({ ...v, services: v.user.services, routerUrl: env.routerUrl });
            return {
                ...common,
                HB_GATEWAY_URL: v.gatewayUrl,
                HB_PROXY_ROUTES: json(proxy),
                HB_PROXY_LOCAL: PROXY_LOCAL_LISTEN,
                HB_PROXY_LISTEN: proxy.listen,
                HB_CLIENT_SECRET_KEY: PROXY_CLIENT_SECRET,
                HB_SESSION_SECRET_KEY: PROXY_SESSION_SECRET,
            };
        }
        case "cockpit-settings":
            return {
                ...common,
                HB_COCKPIT_SETTINGS: json(renderCockpitSettings(v)),
                HB_COCKPIT_PROC: HERO_SERVICES.cockpit.procName,
                HB_TOKEN_KEY: FORGE_TOKEN_SECRET,
            };
        case "books":
            return { ...common, HB_BOOKS_REPO: v.booksRepo, HB_BOOKS_COLLECTION: BOOKS_COLLECTION, HB_BOOKS_PROC: HERO_SERVICES.books.procName, HB_INSTALL_TIMEOUT: String(env.installTimeoutSec) };
        case "health":
            return {
                ...common,
                HB_ROUTER_URL: env.routerUrl,
                HB_GATEWAY_URL: v.gatewayUrl,
                // The front door is healthy when locked (to this login) and alive (the Forge answers).
                HB_COCKPIT_PATH: HERO_SERVICES.cockpit.webPath ?? "/hero_cockpit/web/",
                HB_AUTHORIZE_URL: forgeOAuthEndpoints(v.forgeUrl).authorize,
                HB_CLIENT_ID: v.login.clientId,
                HB_REDIRECT_URI: proxyRedirectUri(v.gatewayUrl),
                HB_HEALTH_TIMEOUT: String(env.healthTimeoutSec),
                HB_HEALTH: v.user.services.map((s) => `${s} ${HERO_SERVICES[s].procName} ${HERO_SERVICES[s].healthPath}`).join("\n"),
            };
    }
}

// ---------------------------------------------------------------- triggers

export type TriggerValues = Pick<StepValues, "host" | "labChannel" | "gatewayUrl" | "forgeUrl" | "forgeLogin" | "feedbackRepo" | "booksRepo"> & {
    services: readonly ServiceName[];
    /** The VM's identity, `<computeEndpoint>#<vmId>`: a new VM is bootstrapped from the start even at the same address. */
    vm: string;
};

/**
 * Each step's triggers: its own inputs, its script's digest, and (from the second step
 * on) `after=<digest of the previous step's triggers>`, a chain, so that a change re-runs
 * the step it affects and every step after it while each step stores only its own
 * values. The service list enters at `services`: a change of services never replaces
 * `install` (whose parameters, and so its stdin digest, then change: it runs again in
 * place and downloads only what is missing). No secret is in any trigger: a new Forge
 * token changes only cockpit-settings' stdin. A new VM (its identity) re-runs every step,
 * even when it comes back at the same address with the same host key.
 */
export function renderTriggers(v: TriggerValues): Record<StepName, string[]> {
    const own: Record<StepName, string[]> = {
        ready: [`host=${v.host}`, `vm=${v.vm}`],
        install: [`lab=${v.labChannel}`],
        services: [`services=${v.services.join(",")}`],
        "front-door": [`gateway=${v.gatewayUrl}`, `forge=${v.forgeUrl}`, `login=${v.forgeLogin}`],
        "cockpit-settings": [`feedback=${v.feedbackRepo}`],
        books: [`books=${v.booksRepo}`],
        health: [],
    };
    const out = {} as Record<StepName, string[]>;
    let chain: string | undefined;
    for (const step of STEPS) {
        out[step] = [...own[step], `${step}.sh=${scriptDigest(step)}`, ...(chain ? [`after=${chain}`] : [])];
        chain = digest(JSON.stringify(out[step]));
    }
    return out;
}
