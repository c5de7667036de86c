/**
 * The pure half of `npm run status`: from one environment's recorded outputs and
 * what the probes saw, its health; then the table, the summary line and the JSON.
 * No network and no Pulumi here, so tests call it directly.
 */
import { doorExpect, judgeDoor, type DoorProbe, type DoorState } from "./door";
import type { EnvironmentOutput } from "./project";
import { terminalJson } from "./terminal";

/** What one probe of an HTTPS URL saw: a status code, or why there was none. */
export interface HttpProbe {
    url: string;
    /** The HTTP status, when the server answered over a valid TLS connection. */
    status?: number;
    /** `tls`: the certificate was refused; `timeout`; `unreachable`: any other transport failure. */
    error?: { kind: "tls" | "timeout" | "unreachable"; message: string };
}

/** What Hero Compute's `get_vm` said about the VM. */
export interface VmProbe {
    state?: string;
    node?: number | null;
    error?: string;
}

export interface Probes {
    vm: VmProbe;
    gateway: HttpProbe;
    /** The cockpit asked without a session (door.ts). */
    cockpit: DoorProbe;
    /** The Forge login the door sends to; probed only when the door is locked. */
    forge?: HttpProbe;
}

/** One row of the table and one entry of the JSON. */
export interface EnvironmentHealth {
    username: string;
    healthy: boolean;
    /** Short reasons, e.g. `vm stopped`, `gateway 502`, `cockpit down`; [] when healthy. */
    problems: string[];
    expires: string | null;
    /** Days from today to the last day (0 on the last day, negative once past), or null. */
    daysLeft: number | null;
    vm: VmProbe;
    gateway: HttpProbe & { ok: boolean };
    /** The front door: locked (to this environment's Forge login) and the Forge answering is ok. */
    cockpit: { url: string; status?: number; error?: HttpProbe["error"]; ok: boolean; door: DoorState; note: string; hops: DoorProbe["hops"] };
    forge: (HttpProbe & { ok: boolean }) | null;
    /** The last bootstrap's result, as recorded at the last `pulumi up`. */
    bootstrap: string;
}

/** An HTTP answer counts when it is below 500 (the gateway). The cockpit is judged by door.ts. */
export function answered(p: HttpProbe): boolean {
    return p.status !== undefined && p.status >= 200 && p.status < 500;
}

/**
 * The Forge's authorize endpoint serves its login: a page (2xx), or, without a
 * session, a redirect to the login page (3xx; Forgejo answers 303 for any client
 * id). A 4xx says no login is served there (a wrong forgeUrl, not a Forgejo).
 */
export function forgeLoginAnswers(p: HttpProbe): boolean {
    return p.status !== undefined && p.status >= 200 && p.status < 400;
}

/** Whole days from `today` (YYYY-MM-DD, UTC) to `expires`. */
export function daysLeft(expires: string, today: string): number {
    return Math.round((Date.parse(`${expires}T00:00:00Z`) - Date.parse(`${today}T00:00:00Z`)) / 86_400_000);
}

/** A field of the outputs that a stack deployed by an older version may lack: named as missing, never `undefined`. */
export function orMissing(value: unknown, what: string): string {
    return typeof value === "string" && value !== "" ? value : `(no ${what} recorded)`;
}

function httpProblem(name: string, p: HttpProbe): string | undefined {
    if (answered(p)) return undefined;
    if (p.status !== undefined) return `${name} ${p.status}`;
    return `${name} ${p.error?.kind === "tls" ? "certificate invalid" : p.error?.kind === "timeout" ? "timeout" : "down"}`;
}

/** One environment's health from its outputs and the probes. */
export function assess(username: string, env: Partial<EnvironmentOutput>, probes: Probes, today: string): EnvironmentHealth {
    const problems: string[] = [];
    const left = env.expires ? daysLeft(env.expires, today) : null;
    if (left !== null && left < 0) problems.push("expired");
    if (probes.vm.state !== "running") problems.push(probes.vm.state ? `vm ${probes.vm.state}` : "vm unknown");
    const gw = httpProblem("gateway", probes.gateway);
    if (gw) problems.push(gw);
    const door = judgeDoor(probes.cockpit, doorExpect(env));
    let forgeOk = false;
    if (door.state === "locked") {
        forgeOk = probes.forge !== undefined && forgeLoginAnswers(probes.forge);
        if (!forgeOk) problems.push(`Forge login ${probes.forge?.status ?? probes.forge?.error?.kind ?? "not probed"}`);
    } else if (door.state !== "down" || !(gw && probes.gateway.status === undefined)) {
        // A cockpit behind a gateway that cannot be reached at all says nothing new.
        problems.push(door.note);
    }
    const first = probes.cockpit.hops[0];
    return {
        username,
        healthy: problems.length === 0,
        problems,
        expires: env.expires ?? null,
        daysLeft: left,
        vm: probes.vm,
        gateway: { ...probes.gateway, ok: answered(probes.gateway) },
        cockpit: { url: probes.cockpit.url, status: first?.status, error: probes.cockpit.error, ok: door.state === "locked" && forgeOk, door: door.state, note: door.note, hops: probes.cockpit.hops },
        forge: probes.forge ? { ...probes.forge, ok: forgeOk } : null,
        bootstrap: orMissing(env.bootstrap, "bootstrap result"),
    };
}

/** `12 environments: 11 healthy, 1 failing (bob: gateway 502)`. */
export function summaryLine(rows: readonly EnvironmentHealth[]): string {
    const failing = rows.filter((r) => !r.healthy);
    const n = rows.length;
    const head = `${n} environment${n === 1 ? "" : "s"}: ${n - failing.length} healthy, ${failing.length} failing`;
    return failing.length === 0 ? head : `${head} (${failing.map((r) => `${r.username}: ${r.problems.join(", ")}`).join("; ")})`;
}

function expiryCell(r: EnvironmentHealth): string {
    if (r.expires === null || r.daysLeft === null) return "never";
    if (r.daysLeft < 0) return `${r.expires} (expired ${-r.daysLeft}d ago)`;
    return `${r.expires} (${r.daysLeft}d left)`;
}

function vmCell(r: EnvironmentHealth): string {
    if (r.vm.state === undefined) return `unknown: ${r.vm.error ?? "no answer"}`;
    return `${r.vm.state}, node ${r.vm.node ?? "?"}`;
}

function httpCell(p: HttpProbe & { ok: boolean }, good: string): string {
    if (p.status !== undefined) return `${p.ok ? good : "failing"}: HTTP ${p.status}`;
    return `${p.error?.kind === "tls" ? "certificate invalid" : p.error?.kind ?? "down"}: ${p.error?.message ?? "no answer"}`;
}

function doorCell(r: EnvironmentHealth): string {
    const c = r.cockpit;
    if (c.door === "locked") return r.forge?.ok ? `locked: ${c.note}` : `failing: Forge login ${r.forge?.status ?? r.forge?.error?.kind ?? "not probed"}`;
    if (c.status === undefined && c.error) return httpCell({ ...c, ok: false }, "");
    return `failing: ${c.note}`;
}

/** Table cells are cut here (the JSON keeps every word). */
export const CELL_MAX = 60;

function cut(text: string): string {
    return text.length <= CELL_MAX ? text : `${text.slice(0, CELL_MAX - 1)}…`;
}

const COLUMNS = ["USER", "EXPIRES", "VM", "GATEWAY (HTTPS)", "FRONT DOOR", "LAST BOOTSTRAP"] as const;

/** The table, one row per environment, columns padded; with `colour`, healthy cells green and failing ones red. */
export function renderTable(rows: readonly EnvironmentHealth[], colour: boolean): string[] {
    const cells = rows.map((r) => {
        const expiryBad = r.daysLeft !== null && r.daysLeft < 0;
        const expirySoon = r.daysLeft !== null && r.daysLeft >= 0 && r.daysLeft <= 7;
        return [
            { text: r.username, tone: r.healthy ? "ok" : "bad" },
            { text: expiryCell(r), tone: expiryBad ? "bad" : expirySoon ? "warn" : "plain" },
            { text: cut(vmCell(r)), tone: r.vm.state === "running" ? "ok" : "bad" },
            { text: cut(httpCell(r.gateway, "ok, certificate valid")), tone: r.gateway.ok ? "ok" : "bad" },
            { text: cut(doorCell(r)), tone: r.cockpit.ok ? "ok" : "bad" },
            { text: r.bootstrap, tone: "plain" },
        ] as const;
    });
    const widths = COLUMNS.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].text.length)));
    const paint = (text: string, tone: string) => {
        if (!colour || tone === "plain") return text;
        const code = tone === "ok" ? 32 : tone === "warn" ? 33 : 31;
        return `\u001b[${code}m${text}\u001b[0m`;
    };
    const line = (row: readonly { text: string; tone: string }[]) =>
        row.map((c, i) => (i === row.length - 1 ? paint(c.text, c.tone) : paint(c.text, c.tone) + " ".repeat(widths[i] - c.text.length))).join("  ").trimEnd();
    return [line(COLUMNS.map((c) => ({ text: c, tone: "plain" }))), ...cells.map(line)];
}

/** The `--json` document. */
export function statusJson(stack: string, checkedAt: string, rows: readonly EnvironmentHealth[]): string {
    const failing = rows.filter((r) => !r.healthy).length;
    return terminalJson({ stack, checkedAt, total: rows.length, healthy: rows.length - failing, failing, summary: summaryLine(rows), environments: rows }, 2);
}
