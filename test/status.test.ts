/**
 * `npm run status`: the pure health logic (expiry, problems, summary, table, colour),
 * then the real entry point against the rehearsal's world (test/rehearsal/world.ts)
 * after an `up` under the real `pulumi` CLI, which status then calls itself
 * (through a wrapper that logs its arguments): first all healthy, then one
 * environment broken on purpose (its VM stopped on Hero Compute, its gateway
 * answering 502, its cockpit down).
 */
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assess, CELL_MAX, daysLeft, renderTable, summaryLine, type Probes } from "../scripts/lib/health";
import { doorExpect, followOnGateway, judgeDoor, type DoorProbe } from "../scripts/lib/door";
import { engineDirs } from "./engine/cli";
import { World } from "./rehearsal/world";

const REPO = path.resolve(__dirname, "..");

const good = (url: string): Probes["gateway"] => ({ url, status: 302 });
const CLIENT = "0b6a2c4e-1f3d-4a5b-9c7e-2d8f6a1b3c5d";
const COCKPIT = "https://x.example/hero_cockpit/web/";
const AUTHORIZE = "https://forge.example.org/login/oauth/authorize";
/** The outputs of an environment whose Forge login is CLIENT. */
const ENV = { cockpitUrl: COCKPIT, forgeUrl: "https://forge.example.org", oauthClientId: CLIENT };
const loginUrl = (client = CLIENT, redirect = "https://x.example/oauth/callback") =>
    `${AUTHORIZE}?${new URLSearchParams({ client_id: client, redirect_uri: redirect, response_type: "code", state: "s" })}`;
/** hero_proxy's answer without a session: /login, then the Forge login. */
const lockedDoor = (login = loginUrl()): DoorProbe => ({
    url: COCKPIT,
    hops: [
        { url: COCKPIT, status: 302, location: "https://x.example/login?next=%2Fhero_cockpit%2Fweb%2F&provider=forge" },
        { url: "https://x.example/login?next=%2Fhero_cockpit%2Fweb%2F&provider=forge", status: 302, location: login },
    ],
});
const door = (status: number, location?: string): DoorProbe => ({ url: COCKPIT, hops: [{ url: COCKPIT, status, location }] });
const probes = (over: Partial<Probes> = {}): Probes => ({
    vm: { state: "running", node: 7 },
    gateway: good("https://x.example/"),
    cockpit: lockedDoor(),
    forge: { url: loginUrl(), status: 200 },
    ...over,
});

describe("health, pure", () => {
    it("counts days to the last day in UTC, negative once past", () => {
        expect(daysLeft("2027-03-31", "2027-03-31")).toBe(0);
        expect(daysLeft("2027-03-31", "2027-03-01")).toBe(30);
        expect(daysLeft("2027-03-31", "2027-04-02")).toBe(-2);
    });

    it("finds nothing wrong with a running VM, an answering gateway, and a door locked to this Forge login with the Forge answering", () => {
        const h = assess("alice", { ...ENV, expires: "2027-03-31", bootstrap: "health: front door locked" }, probes(), "2027-03-01");
        expect(h).toMatchObject({ healthy: true, problems: [], daysLeft: 30, bootstrap: "health: front door locked", cockpit: { ok: true, door: "locked", status: 302 } });
        expect(assess("alice", ENV, probes({ cockpit: door(401), forge: { url: AUTHORIZE, status: 200 } }), "2027-03-01")).toMatchObject({ healthy: true, cockpit: { door: "locked" } });
    });

    it("regression: a cockpit that answers 200 to anyone is failing, 'open without login' (any answer below 500 used to count)", () => {
        const h = assess("alice", ENV, probes({ cockpit: door(200), forge: undefined }), "2027-03-01");
        expect(h).toMatchObject({ healthy: false, problems: ["open without login"], cockpit: { ok: false, door: "open" } });
        expect(renderTable([h], false)[1]).toContain("failing: open without login");
        // Even when the stack recorded no login to compare with.
        expect(assess("old", {}, probes({ cockpit: door(200) }), "2027-03-01").problems).toEqual(["open without login"]);
    });

    it("a login of another client id, one returning elsewhere, a redirect off the Forge, or a loop is failing and says which", () => {
        const problems = (cockpit: DoorProbe) => assess("alice", ENV, probes({ cockpit }), "2027-03-01").problems;
        expect(problems(lockedDoor(loginUrl("someone-elses-app")))).toEqual(["login of another client id (someone-elses-app)"]);
        expect(problems(lockedDoor(loginUrl(CLIENT, "https://evil.example/oauth/callback")))).toEqual(["login returns to another URL (https://evil.example/oauth/callback)"]);
        expect(problems(door(302, "https://elsewhere.example/login"))).toEqual(["login redirects elsewhere (elsewhere.example)"]);
        const loop = { url: COCKPIT, hops: Array.from({ length: 5 }, () => ({ url: COCKPIT, status: 302, location: COCKPIT })) };
        expect(problems(loop)).toEqual(["login redirects in a loop"]);
    });

    it("a locked door whose Forge login does not answer, or serves no login there (404), is failing; its redirect to the login page (303) counts", () => {
        expect(assess("alice", ENV, probes({ forge: { url: loginUrl(), status: 502 } }), "2027-03-01").problems).toEqual(["Forge login 502"]);
        expect(assess("alice", ENV, probes({ forge: { url: loginUrl(), status: 404 } }), "2027-03-01").problems).toEqual(["Forge login 404"]);
        expect(assess("alice", ENV, probes({ forge: { url: loginUrl(), status: 303 } }), "2027-03-01").problems).toEqual([]);
        expect(assess("alice", ENV, probes({ forge: { url: loginUrl(), error: { kind: "timeout", message: "x" } } }), "2027-03-01").problems).toEqual(["Forge login timeout"]);
    });

    it("a stack deployed before the login has none recorded: a problem saying so, not a crash", () => {
        const h = assess("old", { cockpitUrl: COCKPIT, forgeUrl: "https://forge.example.org" }, probes({ forge: undefined }), "2027-03-01");
        expect(h).toMatchObject({ healthy: false, problems: ["no login recorded"], cockpit: { door: "no login recorded" } });
        expect(renderTable([h], false)[1]).toContain("failing: no login recorded");
    });

    it("follows only the gateway's own redirects, never onto the Forge login; expects the redirect URI on the cockpit's gateway", () => {
        expect(followOnGateway(COCKPIT, "https://x.example/login?next=/", AUTHORIZE)).toBe(true);
        expect(followOnGateway(COCKPIT, loginUrl(), AUTHORIZE)).toBe(false);
        expect(followOnGateway(COCKPIT, "https://elsewhere.example/", AUTHORIZE)).toBe(false);
        expect(doorExpect(ENV)).toEqual({ authorizeUrl: AUTHORIZE, clientId: CLIENT, redirectUri: "https://x.example/oauth/callback" });
        expect(judgeDoor(lockedDoor(), doorExpect(ENV))).toEqual({ state: "locked", note: "Forge login", loginUrl: loginUrl() });
    });

    it("names each problem: expired, VM state, gateway status, certificate, cockpit down; an unreachable gateway hides the cockpit's echo", () => {
        expect(assess("bob", { ...ENV, expires: "2027-01-01" }, probes({ vm: { state: "stopped", node: 7 }, gateway: { url: "u", status: 502 }, cockpit: door(503) }), "2027-01-03").problems)
            .toEqual(["expired", "vm stopped", "gateway 502", "cockpit down (503)"]);
        expect(assess("bob", ENV, probes({ vm: { error: "Hero Compute get_vm failed (ECONNREFUSED)" }, gateway: { url: "u", error: { kind: "tls", message: "x" } }, cockpit: { url: "c", hops: [], error: { kind: "tls", message: "x" } } }), "2027-01-01").problems)
            .toEqual(["vm unknown", "gateway certificate invalid"]);
        expect(assess("bob", ENV, probes({ cockpit: { url: "c", hops: [], error: { kind: "unreachable", message: "ECONNRESET" } } }), "2027-01-01").problems).toEqual(["cockpit down"]);
    });

    it("names a field the outputs lack instead of printing undefined", () => {
        const h = assess("old", ENV, probes(), "2027-01-01");
        expect(h.bootstrap).toBe("(no bootstrap result recorded)");
        expect(renderTable([h], false).join("\n")).not.toContain("undefined");
    });

    it("cuts a long cell in the table, keeping the whole text in the row's data", () => {
        const long = `get_vm failed (timeout): ${"x".repeat(200)}`;
        const h = assess("alice", ENV, probes({ vm: { error: long } }), "2027-01-01");
        const cell = renderTable([h], false)[1].split(/\s{2,}/)[2];
        expect(cell).toHaveLength(CELL_MAX);
        expect(cell.endsWith("…")).toBe(true);
        expect(h.vm.error).toBe(long);
    });

    it("summarises as `N environments: H healthy, F failing (who: why)`", () => {
        const ok = assess("alice", ENV, probes(), "2027-01-01");
        const bad = assess("bob", ENV, probes({ gateway: { url: "u", status: 502 } }), "2027-01-01");
        expect(summaryLine([ok, bad])).toBe("2 environments: 1 healthy, 1 failing (bob: gateway 502)");
        expect(summaryLine([ok])).toBe("1 environment: 1 healthy, 0 failing");
    });

    it("pads the columns, colours only when asked, and has no escape code in plain text", () => {
        const rows = [assess("alice", ENV, probes(), "2027-01-01"), assess("bob", ENV, probes({ vm: { state: "stopped", node: 3 } }), "2027-01-01")];
        const plain = renderTable(rows, false);
        expect(plain[0]).toMatch(/^USER {3}EXPIRES {2}VM {15}GATEWAY \(HTTPS\) +FRONT DOOR +LAST BOOTSTRAP$/);
        expect(plain[2]).toMatch(/^bob {4}never {4}stopped, node 3 +ok, certificate valid: HTTP 302 +locked: Forge login +\(no bootstrap result recorded\)$/);
        expect(plain.join("")).not.toContain("\u001b[");
        const coloured = renderTable(rows, true);
        expect(coloured[2]).toContain("\u001b[31mstopped, node 3\u001b[0m");
        expect(coloured[1]).toContain("\u001b[32mrunning, node 7\u001b[0m");
    });
});

describe("npm run status against the rehearsal's world", () => {
    let world: World;
    let bin: string;
    let log: string;
    let credentials: unknown;
    let environments: unknown;

    beforeAll(async () => {
        world = await World.start(["alice", "bob"]);
        world.writeUsers([{ username: "alice" }, { username: "bob" }]);
        const r = await world.run("up");
        expect(r.errors).toEqual([]);
        credentials = r.outputs.credentials;
        environments = r.outputs.environments;
        bin = fs.mkdtempSync(path.join(os.tmpdir(), "status-bin-"));
        log = path.join(bin, "calls.log");
        // The real CLI, behind a wrapper that logs each call's arguments (one per line, tab-separated).
        const real = path.join(engineDirs().bin, "pulumi");
        fs.writeFileSync(path.join(bin, "pulumi"), `#!/bin/sh\nfor a in "$@"; do printf '%s\\t' "$a"; done >> '${log}'\necho >> '${log}'\nexec '${real}' "$@"\n`, { mode: 0o755 });
    }, 240_000);

    afterAll(async () => {
        await world?.stop();
        if (bin) fs.rmSync(bin, { recursive: true, force: true });
    });

    function status(args: string[]): Promise<{ code: number; stdout: string; stderr: string; calls: string[][] }> {
        fs.rmSync(log, { force: true });
        return new Promise((resolve) => {
            execFile(
                path.join(REPO, "node_modules", ".bin", "ts-node"),
                [path.join(REPO, "scripts", "status.ts"), "--stack", "rehearsal", "--timeout", "5", ...args],
                { cwd: world.workspace.projectDir, env: world.workspace.env({ PATH: `${bin}${path.delimiter}${world.workspace.env().PATH}`, TS_NODE_TRANSPILE_ONLY: "true" }) },
                (error, stdout, stderr) => {
                    const calls = fs.existsSync(log) ? fs.readFileSync(log, "utf8").split("\n").filter((l) => l !== "").map((l) => l.replace(/\t$/, "").split("\t")) : [];
                    resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr, calls });
                },
            );
        });
    }

    const trusted = () => ["--ca-file", world.gatewayCa, "--connect-to", world.gatewayAddress];

    function expectNoSecret(text: string): void {
        const secrets = Object.values(credentials as Record<string, Record<string, string>>).flatMap((c) => [c.password, c.forgeToken, ...c.sshPrivateKey.split("\n").filter((l) => l.length > 20)]).filter(Boolean);
        expect(secrets.length).toBeGreaterThan(0);
        for (const s of secrets) expect(text).not.toContain(s);
    }

    it("all healthy: a table with every environment, the summary, exit 0, no secret asked for or printed", async () => {
        const r = await status(trusted());
        expect(r.stderr).toBe("status: probing 2 environments of stack rehearsal (5s timeout per probe)\n");
        const lines = r.stdout.trimEnd().split("\n");
        expect(lines[0]).toMatch(/^USER +EXPIRES +VM +GATEWAY \(HTTPS\) +FRONT DOOR +LAST BOOTSTRAP$/);
        for (const [i, u] of [[1, "alice"], [2, "bob"]] as const) {
            const node = world.compute.vm(`rh${u}`)!.node_id;
            expect(lines[i]).toMatch(new RegExp(`^${u} +never +running, node ${node} +ok, certificate valid: HTTP 302 +locked: Forge login +health: \\d+ services up through \\S+; front door https://rh${u}\\.gw\\.rehearsal\\.test: locked, sends to its Forge login; Forge answers \\(HTTP \\d+\\)$`));
        }
        expect(lines.at(-1)).toBe("2 environments: 2 healthy, 0 failing");
        expect(r.code).toBe(0);
        expect(r.calls).toEqual([["stack", "output", "--json", "--stack", "rehearsal"]]);
        expectNoSecret(r.stdout + r.stderr);
    });

    it("a certificate the client does not trust is a failing gateway, not an answer", async () => {
        const r = await status(["--connect-to", world.gatewayAddress, "--json"]);
        const doc = JSON.parse(r.stdout);
        expect(doc.failing).toBe(2);
        expect(doc.environments[0].problems).toEqual(["gateway certificate invalid"]);
        expect(doc.environments[0].gateway.error.kind).toBe("tls");
        expect(r.code).toBe(1);
    });

    it("one environment broken on purpose (VM stopped, gateway 502, cockpit down): the table, the JSON and exit 1 say so", async () => {
        world.compute.stopVm("rhbob");
        world.gatewayAnswers.set("rhbob.gw.rehearsal.test/", 502);
        world.gatewayAnswers.set("rhbob.gw.rehearsal.test/hero_cockpit/web/", 503);
        const node = world.compute.vm("rhbob")!.node_id;

        const table = await status(trusted());
        console.log(`status table (the sample in docs/commands.md):\n${table.stderr}${table.stdout}`);
        const lines = table.stdout.trimEnd().split("\n");
        expect(lines[1]).toMatch(/^alice +never +running, node \d+ +ok, certificate valid: HTTP 302 +locked: Forge login /);
        expect(lines[2]).toMatch(new RegExp(`^bob +never +stopped, node ${node} +failing: HTTP 502 +failing: cockpit down \\(503\\) +health: \\d+ services up through \\S+; front door `));
        expect(lines.at(-1)).toBe("2 environments: 1 healthy, 1 failing (bob: vm stopped, gateway 502, cockpit down (503))");
        expect(table.code).toBe(1);

        const json = await status([...trusted(), "--json"]);
        expect(json.code).toBe(1);
        const doc = JSON.parse(json.stdout);
        expect(doc).toMatchObject({ stack: "rehearsal", total: 2, healthy: 1, failing: 1, summary: lines.at(-1) });
        expect(doc.environments.map((e: { username: string }) => e.username)).toEqual(["alice", "bob"]);
        expect(doc.environments[0]).toMatchObject({ healthy: true, problems: [], vm: { state: "running" }, gateway: { status: 302, ok: true }, cockpit: { status: 302, ok: true } });
        expect(doc.environments[1]).toMatchObject({
            username: "bob",
            healthy: false,
            problems: ["vm stopped", "gateway 502", "cockpit down (503)"],
            expires: null,
            vm: { state: "stopped", node },
            gateway: { url: "https://rhbob.gw.rehearsal.test/", status: 502, ok: false },
            cockpit: { url: "https://rhbob.gw.rehearsal.test/hero_cockpit/web/", status: 503, ok: false, door: "down" },
        });
        expect(doc.environments[1].bootstrap).toMatch(/^health: \d+ services up through \S+; front door https:\/\/rhbob/);
        expectNoSecret(table.stdout + table.stderr + json.stdout + json.stderr);
    });

    it("judges the front door as the stand-in proxy on alice's VM serves it: open to anyone, or a login of another client id, is failing", async () => {
        const file = path.join(world.machines.get("alice")!.vm.state, "proxy-routes.json");
        const saved = fs.readFileSync(file, "utf8");
        const served = async (change: (cfg: any) => void) => {
            const cfg = JSON.parse(saved);
            change(cfg);
            fs.writeFileSync(file, JSON.stringify(cfg));
            try {
                return JSON.parse((await status([...trusted(), "--json"])).stdout).environments[0];
            } finally {
                fs.writeFileSync(file, saved);
            }
        };
        const open = await served((cfg) => cfg.routes.forEach((r: { auth_mode: string }) => (r.auth_mode = "none")));
        expect(open).toMatchObject({ username: "alice", healthy: false, problems: ["open without login"], cockpit: { status: 200, ok: false, door: "open" } });
        const other = await served((cfg) => (cfg.auth.client_id = "someone-elses-app"));
        expect(other).toMatchObject({ healthy: false, problems: ["login of another client id (someone-elses-app)"], cockpit: { door: "elsewhere" } });
        const locked = await served(() => undefined);
        expect(locked).toMatchObject({ healthy: true, problems: [], cockpit: { door: "locked", ok: true }, forge: { ok: true } });
        // Sent to the fake Forgejo's authorize page with the client id the stack recorded for alice.
        const login = new URL(locked.cockpit.hops.at(-1).location);
        expect(`${login.origin}${login.pathname}`).toBe(`${world.forge.url}/login/oauth/authorize`);
        expect(login.searchParams.get("client_id")).toBe((environments as Record<string, { oauthClientId: string }>).alice.oauthClientId);
    });

    it("refuses a bad command line with the usage and exit 2", async () => {
        const r = await status(["--frobnicate"]);
        expect(r.code).toBe(2);
        expect(r.stderr).toContain("usage: npm run status --");
        expect(r.calls).toEqual([]);
    });
});
