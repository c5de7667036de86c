/**
 * The network half of `npm run status`: one read-only look at each thing an
 * environment needs, each with its own timeout and no retry. Hero Compute is asked
 * with `get_vm` through the providers' client and the stack's binding, without a token (status reads no
 * secret); the gateway URL gets one GET over HTTPS, the certificate checked against the
 * system roots (plus `caFile`, for a private CA or the rehearsal's); the cockpit is asked
 * without a session, following the gateway's own redirects (`probeDoor`), and the Forge
 * login it sends to gets one GET (`probeForge`).
 */
import * as fs from "fs";
import * as tls from "tls";
import { type Binding, Compute } from "../../providers/compute/bind";
import { DOOR_MAX_HOPS, followOnGateway, type DoorHop, type DoorProbe } from "./door";
import type { HttpProbe, VmProbe } from "./health";
import { insecureUrlProblem } from "../../providers/url-rules";

export interface ProbeOptions {
    timeoutMs: number;
    /** PEM file of extra CA certificates trusted for the HTTPS probes. */
    caFile?: string;
    /** `host:port` every HTTPS probe connects to instead of the URL's host; SNI and Host stay the URL's (tests only). */
    connectTo?: string;
    /** How our operations map onto the live Hero Compute (the stack's `computeBinding`). */
    binding: Binding;
}

/** The VM's state and node from Hero Compute. */
export async function probeVm(endpoint: string, vmId: string, username: string, o: ProbeOptions): Promise<VmProbe> {
    if (!endpoint || !vmId) return { error: "no VM recorded in the outputs" };
    const insecure = insecureUrlProblem(endpoint, "the computeEndpoint output", { unix: true });
    if (insecure) return { error: insecure };
    try {
        const vm = await new Compute({ url: endpoint, timeoutMs: o.timeoutMs, retries: 0 }, o.binding).getVm(vmId, username);
        return { state: vm.state, node: vm.node_id ?? null };
    } catch (err) {
        const e = err as { code?: unknown; serverMessage?: string; message?: string };
        // The client's advice about re-running pulumi up is for deploys, not for a status look.
        return { error: e.serverMessage !== undefined ? `get_vm failed (${String(e.code)}): ${e.serverMessage.split("; gave up after")[0]}` : String(e.message) };
    }
}

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|HOSTNAME|ALTNAME|SSL/;

/** One GET of `url`, redirects not followed; the status code, or why there was none. */
export async function probeHttps(url: string, o: ProbeOptions): Promise<HttpProbe> {
    if (!/^https:\/\//.test(url)) return { url, error: { kind: "unreachable", message: url ? `not an https URL: ${url}` : "no URL recorded in the outputs" } };
    const { status, error } = await getOnce(url, o, true);
    return error ? { url, error } : { url, status };
}

/**
 * The cockpit asked without a session: redirects followed on the gateway's own origin
 * (hero_proxy's `/login` hop), up to DOOR_MAX_HOPS, never to the Forge or elsewhere.
 */
export async function probeDoor(cockpitUrl: string, authorizeUrl: string | undefined, o: ProbeOptions): Promise<DoorProbe> {
    const hops: DoorHop[] = [];
    if (!/^https:\/\//.test(cockpitUrl)) return { url: cockpitUrl, hops, error: { kind: "unreachable", message: cockpitUrl ? `not an https URL: ${cockpitUrl}` : "no URL recorded in the outputs" } };
    let url = cockpitUrl;
    for (let i = 0; i <= DOOR_MAX_HOPS; i++) {
        const r = await getOnce(url, o, true);
        if (r.error) return { url: cockpitUrl, hops, error: r.error };
        const location = r.location ? new URL(r.location, url).toString() : undefined;
        hops.push({ url, status: r.status!, location });
        if (!location || r.status! < 300 || r.status! >= 400 || !followOnGateway(url, location, authorizeUrl)) break;
        url = location;
    }
    return { url: cockpitUrl, hops };
}

/** One GET of the Forge's login page (https, or http on loopback only), not through `connectTo`. */
export async function probeForge(url: string, o: ProbeOptions): Promise<HttpProbe> {
    const insecure = insecureUrlProblem(url, "the Forge login URL", { unix: false });
    if (insecure) return { url, error: { kind: "unreachable", message: insecure } };
    const { status, error } = await getOnce(url, o, false);
    return error ? { url, error } : { url, status };
}

/** The one request every probe makes: GET, no redirect followed, one timeout; `connectTo` only for the gateway's URLs. */
async function getOnce(url: string, o: ProbeOptions, viaConnectTo: boolean): Promise<{ status?: number; location?: string; error?: HttpProbe["error"] }> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Agent, buildConnector, request } = require("undici");
    const ca = o.caFile ? [...tls.rootCertificates, fs.readFileSync(o.caFile, "utf8")] : undefined;
    const connector = buildConnector({ ca, timeout: o.timeoutMs });
    const [toHost, toPort] = o.connectTo && viaConnectTo ? splitHostPort(o.connectTo) : [undefined, undefined];
    const connect = toHost
        ? (opts: Record<string, unknown>, cb: unknown) => connector({ ...opts, servername: opts.servername || opts.hostname, hostname: toHost, port: toPort }, cb)
        : connector;
    const agent = new Agent({ connect });
    try {
        const res = await request(url, { method: "GET", dispatcher: agent, signal: AbortSignal.timeout(o.timeoutMs), headersTimeout: o.timeoutMs, bodyTimeout: o.timeoutMs });
        await res.body.dump().catch(() => undefined);
        const location = res.headers.location;
        return { status: res.statusCode, location: typeof location === "string" ? location : undefined };
    } catch (err) {
        const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string; message?: string } };
        const code = e.cause?.code ?? e.code ?? "";
        if (e.name === "TimeoutError" || e.name === "AbortError" || code === "UND_ERR_CONNECT_TIMEOUT" || code === "UND_ERR_HEADERS_TIMEOUT") {
            return { error: { kind: "timeout", message: `no answer within ${o.timeoutMs / 1000}s` } };
        }
        const message = `${code ? `${code}: ` : ""}${e.cause?.message ?? e.message ?? String(err)}`;
        return { error: { kind: TLS_CODES.test(code) ? "tls" : "unreachable", message } };
    } finally {
        agent.destroy().catch(() => undefined);
    }
}

function splitHostPort(s: string): [string, number] {
    const m = /^(.+):(\d+)$/.exec(s);
    if (!m) throw new Error(`--connect-to wants host:port, not ${JSON.stringify(s)}`);
    return [m[1].replace(/^\[|\]$/g, ""), Number(m[2])];
}
