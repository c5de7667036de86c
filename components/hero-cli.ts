/**
 * Everything we assume about the tools inside a demo VM, in ONE place:
 * `lab`, hero_proc, hero_router, hero_proxy, hero_cockpit and the service binaries.
 *
 * Marked VERIFIED: stated in ../shared/reference/README.md ("Inside the VM") or the
 * s132 proof run on herolab.gent02.grid.tf. Everything else is UNVERIFIED: a best
 * guess that the bootstrap scripts use through the names below, so that correcting
 * it against the real tools means editing this file only. The scripts never spell a
 * Hero command themselves; they call the `hc_*` shell functions rendered from
 * `HERO_CLI_SH` below.
 */
import type { ServiceName } from "../users/catalog";
import { EMBEDDER_PROFILE } from "../users/catalog";
import type { LabChannel } from "./settings";

/** Paths on the VM. The scripts prefix every one of them with HB_ROOT (empty on a real VM). */
export const HERO_PATHS = {
    /** Working directory of Hero services. UNVERIFIED. */
    heroHome: "/root/hero",
    /** Where `lab` installs Hero binaries. UNVERIFIED (`~/hero/bin` for root, after `~/hero/var/sockets`). */
    binDir: "/root/hero/bin",
    /** Where the bootstrap puts `lab` itself when it is missing. UNVERIFIED. */
    labPath: "/usr/local/bin/lab",
    /** Config files the bootstrap writes for Hero services. UNVERIFIED. */
    cfgDir: "/root/hero/cfg",
    /** The bootstrap's own bookkeeping (what it applied, digests, markers). Ours. */
    stateDir: "/var/lib/hero-os-grid-deployer",
    /** One log per step, 0600. Ours. */
    logDir: "/var/log/hero-os-grid-deployer",
} as const;

/** hero_router's TCP port. VERIFIED (9988, binds the mycelium address when there is one). */
export const ROUTER_PORT = 9988;

/**
 * hero_router is bound to loopback for good: only hero_proxy, on the same VM, reaches it.
 * VERIFIED: hero_router picks its bind address from `HERO_MYCELIUM_IP` before anything
 * else (reference, "Inside the VM"). UNVERIFIED: that nothing else in hero_router reads
 * that variable as "the VM's mycelium address" (to advertise it, say); if something does,
 * it now reads loopback, which breaks only that, and the services stay closed.
 */
export const ROUTER_BIND_ENV: Readonly<Record<string, string>> = { HERO_MYCELIUM_IP: "127.0.0.1" };

/** hero_router as hero_proxy and the health step see it on a real VM: loopback (ROUTER_BIND_ENV). */
export const ROUTER_LOOPBACK_URL = `http://127.0.0.1:${ROUTER_PORT}`;

/**
 * hero_router's allowlist: loopback only, the source of hero_proxy's requests. VERIFIED:
 * `hero_router access list|add|remove`, and an empty list lets everyone in; so the
 * services step fills it right after hero_router starts, before any other service.
 */
export const ROUTER_ALLOW: readonly string[] = ["127.0.0.1", "::1"];

/**
 * The port the web gateway must point at: hero_proxy, the authenticated front door.
 * The gateway backend is `http://[<mycelium ip>]:FRONT_DOOR_PORT`. UNVERIFIED: hero_proxy's
 * listening port is not documented anywhere we could read. Pointing the gateway at
 * ROUTER_PORT instead would bypass the Forge login.
 */
export const FRONT_DOOR_PORT = 9997;

/**
 * The path on the gateway URL where hero_proxy receives the Forge's OAuth2
 * authorization code; the Forge application's redirect URI is the user's
 * gateway URL plus this path. UNVERIFIED: hero_proxy's OAuth callback route is
 * not documented anywhere we could read (`/login?next=&provider=` is).
 */
export const PROXY_OAUTH_CALLBACK_PATH = "/oauth/callback";

/** The redirect URI of a user's Forge login: the gateway URL plus PROXY_OAUTH_CALLBACK_PATH. */
export function proxyRedirectUri(gatewayUrl: string): string {
    return `${gatewayUrl.replace(/\/+$/, "")}${PROXY_OAUTH_CALLBACK_PATH}`;
}

/**
 * Where hero_proxy listens until its routes and login are in place, and after. The
 * services step starts it with PROXY_START_ENV (loopback: the gateway cannot reach it);
 * front-door switches it to PROXY_PUBLIC_LISTEN only once its secrets, routes and login
 * are applied, and back to loopback before it changes any of them. UNVERIFIED: the
 * variable's name, the `hc_proxy_listen` command, and that hero_proxy keeps the address it
 * was last given across restarts (if it does not, a restarted proxy listens on loopback:
 * the door stays shut, and the health step says so; it never opens).
 */
export const PROXY_LOCAL_LISTEN = `127.0.0.1:${FRONT_DOOR_PORT}`;
export const PROXY_PUBLIC_LISTEN = `[::]:${FRONT_DOOR_PORT}`;
export const PROXY_START_ENV: Readonly<Record<string, string>> = { HERO_PROXY_LISTEN: PROXY_LOCAL_LISTEN };

/**
 * Hero Proc secret keys of the front door's login: the Forge OAuth2 client secret and the
 * key hero_proxy signs its sessions with. UNVERIFIED names (after `cockpit/USER_FORGE_TOKEN`),
 * and UNVERIFIED that hero_proxy reads its secrets from Hero Proc by key.
 */
export const PROXY_CLIENT_SECRET = "hero_proxy/FORGE_CLIENT_SECRET";
export const PROXY_SESSION_SECRET = "hero_proxy/SESSION_SECRET";

/**
 * Forgejo's OAuth2 endpoints under a Forge URL. VERIFIED on a real Forgejo by
 * test/forge-oauth-real.test.ts (authorize, code exchange, /api/v1/user as the user).
 */
export function forgeOAuthEndpoints(forgeUrl: string): { authorize: string; token: string; userinfo: string } {
    const base = forgeUrl.replace(/\/+$/, "");
    return { authorize: `${base}/login/oauth/authorize`, token: `${base}/login/oauth/access_token`, userinfo: `${base}/api/v1/user` };
}

/**
 * hero_proxy's login block for one user: Forge OAuth2 with this environment's application,
 * only `allowed_users` let in. UNVERIFIED: every key name and the shape (hero_proxy's OAuth
 * presets seen in 2026-04 are Google and GitHub only; a `forge` provider is what
 * hero_cockpit#2 asks for). The secrets appear by their Hero Proc key, never by value.
 */
export interface ProxyAuth {
    mode: "oauth";
    provider: "forge";
    forge_url: string;
    authorize_url: string;
    token_url: string;
    userinfo_url: string;
    client_id: string;
    redirect_uri: string;
    client_secret_key: string;
    session_secret_key: string;
    allowed_users: string[];
}

/**
 * The allowed-users rule as we assume hero_proxy applies it: the Forge login from
 * userinfo must be on the list, compared without case (Forge logins ignore case).
 * UNVERIFIED in hero_proxy; the stand-in proxy of the tests applies exactly this.
 */
export function proxyAdmits(auth: Pick<ProxyAuth, "allowed_users">, login: string): boolean {
    const wanted = login.trim().toLowerCase();
    return wanted !== "" && auth.allowed_users.some((u) => u.toLowerCase() === wanted);
}

/**
 * Where `lab` is downloaded from when missing: one release (a tag, config `labRelease`;
 * today's channel name by default). UNVERIFIED release layout on the Forge.
 */
export function labDownloadUrl(release: LabChannel | string): string {
    return `https://forge.ourworld.tf/lhumina_code/hero_lab/releases/download/${encodeURIComponent(release)}/lab-linux-amd64`;
}

/**
 * Where the SHA-256 that `lab` is checked against before it first runs comes from:
 * stack config `labSha256`. UNVERIFIED guess: we do not know whether a release
 * publishes a checksum file beside `lab-linux-amd64` (which would be only as
 * trustworthy as the release itself), so the admin pins the checksum they checked.
 * Without it the install step refuses to run `lab`.
 */
export const LAB_CHECKSUM_SOURCE = "stack config labSha256" as const;

/** Time limits on the VM: one download (curl --max-time), and one `lab build … --install` or Books import. UNVERIFIED sizes. */
export const DOWNLOAD_TIMEOUT_SEC = 600;
export const INSTALL_TIMEOUT_SEC = 1800;

/** The single Hero Proc service definition the bootstrap owns. UNVERIFIED file name and shape. */
export const PROC_DEFINITION_NAME = "hero_os_demo";

/** Hero Proc secret key of the user's Forge token. VERIFIED as the example in the reference. */
export const FORGE_TOKEN_SECRET = "cockpit/USER_FORGE_TOKEN";

/** Bring-your-own AI key slots in the cockpit; the user fills them in. Key names UNVERIFIED. */
export const BYO_KEY_SLOTS = [
    { provider: "openrouter", label: "OpenRouter", secret: "cockpit/OPENROUTER_API_KEY" },
    { provider: "groq", label: "Groq", secret: "cockpit/GROQ_API_KEY" },
    { provider: "sambanova", label: "SambaNova", secret: "cockpit/SAMBANOVA_API_KEY" },
] as const;

/** The non-production notice shown in the cockpit. */
export const DEMO_NOTICE = "This is a demo environment and data may be lost.";

/** Books collection name for the public demo content. UNVERIFIED. */
export const BOOKS_COLLECTION = "demo";

/** One process Hero Proc runs. */
export interface ProcAction {
    name: string;
    /** Binary under HERO_PATHS.binDir. */
    exec: string;
    args: string[];
    env: Record<string, string>;
}

/** What `lab` installs and what Hero Proc runs, for one catalog service. */
export interface HeroService {
    /** Repo name passed to `lab build`. VERIFIED form (`lab build <repo> --download --install`), names UNVERIFIED. */
    repo: string;
    /** The binary whose presence means the repo is installed. UNVERIFIED. */
    primaryBinary: string;
    /** Hero Proc service name, also the hero_router path segment. UNVERIFIED (`hero_<x>`). */
    procName: string;
    /** Processes Hero Proc runs; empty for hero_proc itself, which is the manager. */
    actions: ProcAction[];
    /** Catalog services that must be up first. */
    dependsOn: ServiceName[];
    /** Path of the web UI behind hero_router, if any (`/{service}/{web}/`). VERIFIED for the cockpit only. */
    webPath?: string;
    /** Path under hero_router that answers 200 when the service is up. VERIFIED convention (`/{service}/rpc/` + `GET /health`). */
    healthPath: string;
}

function hero(name: ServiceName, opts: { web?: boolean; dependsOn?: ServiceName[]; env?: Record<string, string>; args?: string[] } = {}): HeroService {
    const procName = `hero_${name}`;
    const actions: ProcAction[] = [{ name: `${procName}_server`, exec: `${procName}_server`, args: opts.args ?? [], env: opts.env ?? {} }];
    if (opts.web) actions.push({ name: `${procName}_web`, exec: `${procName}_web`, args: [], env: {} });
    return {
        repo: procName,
        primaryBinary: `${procName}_server`,
        procName,
        actions,
        dependsOn: opts.dependsOn ?? ["proc", "router"],
        webPath: opts.web ? `/${procName}/web/` : undefined,
        healthPath: `/${procName}/rpc/health`,
    };
}

/** Per catalog service: what `lab` installs (repo) and what Hero Proc runs. Keyed by users/catalog.ts names. */
export const HERO_SERVICES: Readonly<Record<ServiceName, HeroService>> = {
    proc: { repo: "hero_proc", primaryBinary: "hero_proc", procName: "hero_proc", actions: [], dependsOn: [], healthPath: "/hero_proc/rpc/health" },
    router: {
        // Bound to loopback (ROUTER_BIND_ENV): only hero_proxy reaches it.
        ...hero("router", { dependsOn: ["proc"], env: { ...ROUTER_BIND_ENV } }),
        // hero_router answers for itself at its root. VERIFIED (s132 smoke test).
        healthPath: "/.well-known/heroservice.json",
    },
    // Started on loopback (PROXY_START_ENV); front-door opens it once the door is locked.
    proxy: hero("proxy", { env: { ...PROXY_START_ENV } }),
    cockpit: hero("cockpit", { web: true }),
    // The embedder's model profile flag is UNVERIFIED; the profile itself is decided in users/catalog.ts.
    embedder: hero("embedder", { args: ["--profile", EMBEDDER_PROFILE] }),
    books: hero("books", { web: true, dependsOn: ["proc", "router", "embedder"] }),
    slides: hero("slides", { web: true }),
    whiteboard: hero("whiteboard", { web: true }),
    callup: hero("callup", { web: true }),
    agents: hero("agents", { web: true }),
    voice: hero("voice", { web: true }),
};

/**
 * The command forms, as shell functions. Only literal text: parameters reach them as
 * "$1", "$2" from the scripts, never by concatenation here.
 * Each line is one tool invocation; all UNVERIFIED except `lab build ... --download --install`,
 * `hero_proc action set <file>`, `hero_proc service list|status` and `hero_router access list|add|remove`.
 * Also UNVERIFIED: that `hero_proc action set` only loads a definition and starts nothing
 * (the services step starts hero_router first and locks it before any other service).
 */
export const HERO_CLI_SH = String.raw`# --- Hero command forms (rendered from components/hero-cli.ts) ---
# hc_lab_install REPO CHANNEL: download and install a released binary.
hc_lab_install() { lab build "$1" --download --install --tag "$2"; }
# hc_proc_ping: is the hero_proc server answering?
hc_proc_ping() { hero_proc service list; }
# hc_proc_boot: start the hero_proc server (it registers itself).
hc_proc_boot() { hero_proc_server --start; }
# hc_proc_apply FILE: load a service definition (a set of actions).
hc_proc_apply() { hero_proc action set "$1"; }
hc_proc_start() { hero_proc service start "$1"; }
hc_proc_restart() { hero_proc service restart "$1"; }
hc_proc_stop() { hero_proc service stop "$1"; }
hc_proc_remove() { hero_proc service remove "$1"; }
# hc_proc_running NAME: exit 0 when NAME is running.
hc_proc_running() { hero_proc service status "$1" 2>/dev/null | grep -qiw running; }
hc_proc_logs() { hero_proc service logs "$1"; }
# hc_proc_secret_set KEY: the value comes on stdin, never as an argument.
hc_proc_secret_set() { hero_proc secret set "$1"; }
# hc_proxy_apply FILE: replace hero_proxy's domain routes with FILE.
hc_proxy_apply() { hero_proxy routes set "$1"; }
# hc_proxy_listen ADDRESS: where hero_proxy accepts connections (host:port), kept across restarts.
hc_proxy_listen() { hero_proxy listen set "$1"; }
hc_router_access_list() { hero_router access list; }
hc_router_access_add() { hero_router access add "$1"; }
hc_router_access_remove() { hero_router access remove "$1"; }
# hc_books_import COLLECTION GIT_URL: load a git repo into a named Books collection (re-import replaces).
hc_books_import() { hero_books_server collection import --name "$1" --git "$2"; }
`;
