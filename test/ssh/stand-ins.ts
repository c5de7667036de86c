/**
 * What the fake VM's Hero tools do on the network, modelled on addresses: which of
 * hero_router and hero_proxy accept a connection on the VM's external (mycelium)
 * address, and what the proxy answers a browser. The stub binaries (fake-vm.ts) keep
 * their state in files; these functions read it at each connection or request:
 * - `started-<name>.json`: the Hero Proc definition a service was last (re)started with
 *   (its action's env says where it binds: hero-cli.ts ROUTER_BIND_ENV, PROXY_START_ENV);
 * - `access`: hero_router's allowlist (empty = open, as the real one);
 * - `proxy-listen`: where hero_proxy was last told to listen (kept across restarts);
 * - `proxy-routes.json`: the config front-door gave hero_proxy;
 * - `secret-<key>`: Hero Proc's secrets.
 * The proxy applies the allowed-users rule the bootstrap renders (`proxyAdmits`), so a
 * test of the stand-in is a test of what the VM is given, not of a hand-made config.
 */
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as path from "path";
import { PROXY_OAUTH_CALLBACK_PATH, proxyAdmits } from "../../components/hero-cli";
import type { ProxyConfig } from "../../components/hero-config";

/** The header the stand-in proxy takes as a valid session of that Forge login (a browser's cookie, in short). */
export const SESSION_HEADER = "x-stand-in-session-login";

const readText = (file: string): string | undefined => (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined);

/** The env of a service's first action, as Hero Proc last started it; undefined when never started. */
function startedEnv(state: string, service: string): Record<string, string> | undefined {
    const text = readText(path.join(state, `started-${service}.json`));
    if (text === undefined) return undefined;
    const def = JSON.parse(text) as { services: { name: string; actions: { env: Record<string, string> }[] }[] };
    return def.services.find((s) => s.name === service)?.actions[0]?.env ?? {};
}

export function isRunning(state: string, service: string): boolean {
    return fs.existsSync(path.join(state, "running", service));
}

/** A host of `host:port` / `[host]:port` / a bare address is loopback. */
export function isLoopback(address: string): boolean {
    const host = address.replace(/:\d+$/, "").replace(/^\[|\]$/g, "").replace(/^::ffff:/, "");
    return /^127\./.test(host) || host === "::1" || host === "localhost";
}

/** Where hero_router listens: loopback when started with HERO_MYCELIUM_IP on loopback, else the mycelium address. */
export function routerBinding(state: string): "loopback" | "external" | "down" {
    if (!isRunning(state, "hero_router")) return "down";
    const ip = startedEnv(state, "hero_router")?.HERO_MYCELIUM_IP;
    return ip !== undefined && isLoopback(ip) ? "loopback" : "external";
}

export function routerAllowlist(state: string): string[] {
    return (readText(path.join(state, "access")) ?? "").split("\n").filter(Boolean);
}

/** Whether hero_router accepts a connection from `source` on the VM's external address. */
export function routerAcceptsExternal(state: string, source: string): boolean {
    if (routerBinding(state) !== "external") return false;
    const allow = routerAllowlist(state);
    return allow.length === 0 || allow.includes(source.replace(/^::ffff:/, ""));
}

/** Where hero_proxy listens: what it was last told, else its start env, else (no env) everywhere. */
export function proxyListen(state: string): string | undefined {
    if (!isRunning(state, "hero_proxy")) return undefined;
    return readText(path.join(state, "proxy-listen"))?.trim() || startedEnv(state, "hero_proxy")?.HERO_PROXY_LISTEN || "[::]:9997";
}

export function proxyAcceptsExternal(state: string): boolean {
    const listen = proxyListen(state);
    return listen !== undefined && !isLoopback(listen);
}

export function proxyConfig(state: string): ProxyConfig | undefined {
    const text = readText(path.join(state, "proxy-routes.json"));
    return text === undefined ? undefined : (JSON.parse(text) as ProxyConfig);
}

/** Starts `handler` on `host`, port 0; `accept(socket)` decides per connection whether anyone is listening. */
export async function listen(host: string, handler: http.RequestListener, accept?: (socket: net.Socket) => boolean): Promise<{ server: http.Server; url: string; port: number }> {
    const server = http.createServer(handler);
    if (accept) server.on("connection", (socket) => void (accept(socket) || socket.destroy()));
    await new Promise<void>((r) => server.listen(0, host, r));
    const port = (server.address() as net.AddressInfo).port;
    return { server, port, url: `http://${host}:${port}` };
}

function send(res: http.ServerResponse, status: number, body = "", headers: Record<string, string> = {}): void {
    res.writeHead(status, { "content-length": String(Buffer.byteLength(body)), ...headers });
    res.end(body);
}

/**
 * hero_proxy as configured: without a session every route sends to `/login`, which sends
 * to the Forge's authorize endpoint with the config's client id and redirect URI; a
 * session of a login the config admits gets the route, any other login 403. Without
 * routes nothing is served (404); without its client secret in Hero Proc, no login (503).
 */
export function proxyAnswer(state: string, req: http.IncomingMessage, res: http.ServerResponse): void {
    const config = proxyConfig(state);
    if (!config) return send(res, 404, "hero_proxy: no routes\n");
    const url = new URL(req.url ?? "/", "http://proxy");
    if (url.pathname === "/login") {
        if (!fs.existsSync(path.join(state, `secret-${config.auth.client_secret_key.replace(/\//g, "_")}`))) {
            return send(res, 503, "hero_proxy: the login has no client secret\n");
        }
        const to = new URL(config.auth.authorize_url);
        to.search = new URLSearchParams({ client_id: config.auth.client_id, redirect_uri: config.auth.redirect_uri, response_type: "code", state: Buffer.from(url.searchParams.get("next") ?? "/").toString("base64url") }).toString();
        return send(res, 302, "", { location: to.toString() });
    }
    if (url.pathname === PROXY_OAUTH_CALLBACK_PATH) return send(res, 400, "hero_proxy stand-in: no code exchange here\n");
    const route = [...config.routes].sort((a, b) => b.path.length - a.path.length).find((r) => url.pathname.startsWith(r.path));
    if (!route) return send(res, 404, "hero_proxy: no route\n");
    // A route without a login (auth_mode "none", as hero_proxy has one) lets anyone in.
    if ((route.auth_mode as string) === "none") return send(res, 200, `hero_proxy stand-in: anyone -> ${route.upstream ?? route.redirect}\n`);
    const login = req.headers[SESSION_HEADER];
    if (typeof login !== "string" || login === "") return send(res, 302, "", { location: `/login?next=${encodeURIComponent(url.pathname)}&provider=forge` });
    if (!proxyAdmits(config.auth, login)) return send(res, 403, `hero_proxy: ${login} may not pass\n`);
    if (route.redirect) return send(res, 302, "", { location: route.redirect });
    send(res, 200, `hero_proxy stand-in: ${login} -> ${route.upstream}\n`);
}

/**
 * A grid gateway: every request forwarded to `backend()` (the VM's proxy on its external
 * address), Host kept; 502 when nothing accepts there, as the grid's gateway answers.
 */
export function forwardTo(backend: () => { host: string; port: number } | undefined): http.RequestListener {
    return (req, res) => {
        const to = backend();
        const fail = () => {
            if (!res.headersSent) send(res, 502, "gateway: the backend does not answer\n");
            else res.destroy();
        };
        if (!to) return fail();
        // A new connection each time (no keep-alive): the proxy decides per connection whether it listens there.
        const up = http.request({ host: to.host, port: to.port, method: req.method, path: req.url, headers: req.headers, agent: false }, (r) => {
            res.writeHead(r.statusCode ?? 502, r.headers);
            r.pipe(res);
        });
        up.on("error", fail);
        req.pipe(up);
    };
}

/** One GET from `source` (another mycelium peer, on loopback): the status, or "no answer" when nothing accepted. */
export async function peerGet(url: string, source = "127.0.0.99", headers: Record<string, string> = {}): Promise<number | "no answer"> {
    return await new Promise((resolve) => {
        const req = http.get(url, { localAddress: source, headers, timeout: 5000, agent: false }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
        });
        req.on("error", () => resolve("no answer"));
        req.on("timeout", () => req.destroy());
    });
}
