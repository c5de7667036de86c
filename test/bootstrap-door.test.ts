/**
 * Issue 22, the VM side of the front door, over a REAL OpenSSH server (test/ssh/harness.ts)
 * with a fake VM whose stand-in hero_router and hero_proxy model addresses: a second
 * loopback address stands for the VM's mycelium address, and a "peer" connects to it
 * from yet another (127.0.0.99), as another demo user's VM would over mycelium.
 * - Closed first: at no point during `services` is a service reachable from a peer.
 * - Closed on failure: a failed proxy step leaves nothing answering a peer, and the gateway
 *   502; fixed and run again, it converges to a locked door.
 * - Only this user (and the admins) pass the door the bootstrap configured.
 * - Health means locked and alive: locked passes; open to anyone, another client id, or a
 *   dead Forge fail, each saying so.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StepName, StepValues } from "../components/render";
import { resolveServices } from "../users/catalog";
import { CLIENT_ID, stepValues } from "./support/fixtures";
import { createFakeVm, generateClientKey, runStep, sshdAvailable, startSshd, type ClientKey, type FakeVm, type Sshd } from "./ssh/harness";
import { peerGet, SESSION_HEADER } from "./ssh/stand-ins";

const SECRETS = { forgeToken: "tok-door-SECRET", clientSecret: "gto_door-client-SECRET", sessionSecret: "door-session-SECRET" };
const haveSshd = sshdAvailable();
if (!haveSshd && process.env.CI === "true") throw new Error("CI: /usr/sbin/sshd is missing; .ci/run must install openssh-server");

let key: ClientKey;
let sshd: Sshd;
let keyDir: string;

beforeAll(async () => {
    if (!haveSshd) return;
    keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "hb-key-"));
    key = generateClientKey(keyDir);
    sshd = await startSshd(key.publicKey);
});

afterAll(async () => {
    await sshd?.stop();
    if (keyDir) fs.rmSync(keyDir, { recursive: true, force: true });
});

function values(vm: FakeVm, admins: string[] = []): StepValues {
    return stepValues({ host: vm.external, gatewayUrl: vm.gatewayUrl, forgeUrl: vm.url, login: { clientId: CLIENT_ID, admins } }, resolveServices([]));
}

async function run(vm: FakeVm, steps: StepName[], v = values(vm), env = vm.env()) {
    const out = [];
    for (const s of steps) out.push({ step: s, ...(await runStep(sshd, key, s, v, env, SECRETS)) });
    return out;
}

/** What a mycelium peer gets from the VM: hero_router and hero_proxy on its external address, and the public gateway. */
async function fromPeer(vm: FakeVm) {
    return {
        router: await peerGet(`${vm.externalRouterUrl}/.well-known/heroservice.json`),
        cockpitRpc: await peerGet(`${vm.externalRouterUrl}/hero_cockpit/rpc/health`),
        procRpc: await peerGet(`${vm.externalRouterUrl}/hero_proc/rpc/health`),
        proxy: await peerGet(`${vm.externalProxyUrl}/hero_cockpit/web/`),
        gateway: await peerGet(`${vm.gatewayUrl}/hero_cockpit/web/`),
    };
}

const SHUT = { router: "no answer", cockpitRpc: "no answer", procRpc: "no answer", proxy: "no answer", gateway: 502 };
const LOCKED = { router: "no answer", cockpitRpc: "no answer", procRpc: "no answer", proxy: 302, gateway: 302 };

describe.skipIf(!haveSshd)("the front door over real SSH: closed first, closed on failure, locked and alive", () => {
    let vm: FakeVm;
    beforeAll(async () => {
        vm = await createFakeVm();
    });
    afterAll(async () => {
        await vm?.close();
    });

    it("the stand-ins model addresses: a router bound to the mycelium address with an empty allowlist answers any peer (the old design)", async () => {
        const old = await createFakeVm();
        try {
            fs.mkdirSync(path.join(old.state, "running"), { recursive: true });
            fs.writeFileSync(path.join(old.state, "running", "hero_router"), "");
            fs.writeFileSync(path.join(old.state, "started-hero_router.json"), JSON.stringify({ services: [{ name: "hero_router", actions: [{ env: {} }] }] }));
            expect(await peerGet(`${old.externalRouterUrl}/hero_proc/rpc/health`)).toBe(200);
            fs.writeFileSync(path.join(old.state, "access"), "127.0.0.1\n");
            expect(await peerGet(`${old.externalRouterUrl}/hero_proc/rpc/health`)).toBe("no answer");
            expect(await peerGet(`${old.externalRouterUrl}/hero_proc/rpc/health`, "127.0.0.1")).toBe(200);
        } finally {
            await old.close();
        }
    });

    it("regression: a VM deployed before (hero_router on its mycelium address, that address on the allowlist) is locked by the next services run", async () => {
        const old = await createFakeVm();
        try {
            for (const r of await run(old, ["ready", "install"])) expect(r.code, r.stderr).toBe(0);
            // What the old bootstrap left: hero_router running unbound (mycelium), the VM's own address allowed, its digest recorded.
            fs.writeFileSync(path.join(old.state, "running", "hero_router"), "");
            fs.writeFileSync(path.join(old.state, "started-hero_router.json"), JSON.stringify({ services: [{ name: "hero_router", actions: [{ env: {} }] }] }));
            fs.writeFileSync(path.join(old.state, "access"), `${old.external}\n127.0.0.1\n::1\n`);
            const applied = path.join(old.root, "var/lib/hero-os-grid-deployer/applied");
            fs.mkdirSync(applied, { recursive: true });
            fs.writeFileSync(path.join(applied, "services.list"), "hero_router 000000000000\n");
            // A peer the old allowlist let in: the VM itself, from its own address.
            expect(await peerGet(`${old.externalRouterUrl}/hero_proc/rpc/health`, old.external)).toBe(200);
            const [r] = await run(old, ["services"]);
            expect(r.code, r.stderr).toBe(0);
            const calls = old.changes();
            const firstStart = calls.findIndex((c) => /^hero_proc service start /.test(c));
            expect(calls.indexOf("hero_proc service restart hero_router")).toBeLessThan(firstStart);
            expect(calls.indexOf(`hero_router access remove ${old.external}`)).toBeLessThan(firstStart);
            expect(old.starts().filter((x) => x.service !== "hero_router").every((x) => x.router === "loopback" && x.allow.join() === "127.0.0.1,::1")).toBe(true);
            expect(await peerGet(`${old.externalRouterUrl}/hero_proc/rpc/health`, old.external)).toBe("no answer");
            expect(await fromPeer(old)).toEqual(SHUT);
        } finally {
            await old.close();
        }
    });

    it("closed first: hero_router starts alone and is locked to loopback before any other service starts; no peer reaches a service after `services`", async () => {
        const results = await run(vm, ["ready", "install", "services"]);
        for (const r of results) expect(r.code, `${r.step}: ${r.stderr}`).toBe(0);
        const starts = vm.starts();
        expect(starts[0]).toMatchObject({ service: "hero_router", router: "down" });
        expect(starts.slice(1).map((s) => s.service)).toEqual(["hero_proxy", "hero_cockpit", "hero_embedder", "hero_books"]);
        for (const s of starts.slice(1)) {
            expect(s, s.service).toMatchObject({ router: "loopback", allow: ["127.0.0.1", "::1"] });
            expect(s.proxy, s.service).not.toBe("[::]:9997");
        }
        // The calls say the same: the allowlist is filled after hero_router's start and before any other start.
        const calls = vm.changes();
        const firstOther = calls.findIndex((c) => /^hero_proc service start (?!hero_router)/.test(c));
        expect(calls.indexOf("hero_proc service start hero_router")).toBeLessThan(calls.indexOf("hero_router access add 127.0.0.1"));
        expect(calls.indexOf("hero_router access add ::1")).toBeLessThan(firstOther);
        expect(await fromPeer(vm)).toEqual(SHUT);
        // hero_proxy runs, on loopback only, with no routes yet.
        expect(await peerGet(`${vm.localProxyUrl}/hero_cockpit/web/`, "127.0.0.1")).toBe(404);
    });

    it("closed on failure: a failed proxy step leaves no service answering a peer and the gateway 502; fixed and run again, the door is locked", async () => {
        vm.failOn("hero_proxy routes set*");
        const [failed] = await run(vm, ["front-door"]);
        vm.failOn();
        expect(failed.code).not.toBe(0);
        expect(failed.stderr).toMatch(/front-door: FAILED: hero_proxy: applying \d+ routes and the Forge login for http:\/\/127\.0\.0\.1:\d+ \(exit 1\)/);
        expect(await fromPeer(vm)).toEqual(SHUT);

        const [fixed] = await run(vm, ["front-door"]);
        expect(fixed.code, fixed.stderr).toBe(0);
        expect(fixed.stdout).toMatch(/^front-door: \d+ routes and login applied for http:\/\/127\.0\.0\.1:\d+; open on \[::\]:9997$/m);
        expect(await fromPeer(vm)).toEqual(LOCKED);
        const again = await run(vm, ["front-door"]);
        expect(again[0].stdout).toMatch(/routes and login for \S+ unchanged; listening on \[::\]:9997/);
    });

    it("closed on failure again: a change that fails to apply shuts the open door (it is not left open on the old config)", async () => {
        vm.failOn("hero_proxy routes set*");
        const [failed] = await run(vm, ["front-door"], values(vm, ["ana"]));
        vm.failOn();
        expect(failed.code).not.toBe(0);
        expect(await fromPeer(vm)).toEqual(SHUT);
        const [fixed] = await run(vm, ["front-door"], values(vm, ["ana"]));
        expect(fixed.code, fixed.stderr).toBe(0);
        expect(await fromPeer(vm)).toEqual(LOCKED);
    });

    it("only this user and the admins pass; another user of the same Forge is refused, whatever the case", async () => {
        const as = (login: string) => peerGet(`${vm.gatewayUrl}/hero_cockpit/web/`, "127.0.0.99", { [SESSION_HEADER]: login });
        for (const login of ["alice", "ALICE", "ana", "Ana"]) expect(await as(login), login).toBe(200);
        for (const login of ["bob", "alice2", "root"]) expect(await as(login), login).toBe(403);
        // Nor does a session reach hero_router around the proxy.
        expect(await peerGet(`${vm.externalRouterUrl}/hero_cockpit/web/`, "127.0.0.99", { [SESSION_HEADER]: "alice" })).toBe("no answer");
    });

    it("a rotated client secret reaches Hero Proc on stdin and the login is applied again; no secret in any call", async () => {
        const rotated = { ...SECRETS, clientSecret: "gto_door-ROTATED-SECRET" };
        const before = vm.changes().length;
        const r = await runStep(sshd, key, "front-door", values(vm, ["ana"]), vm.env(), rotated);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toMatch(/^front-door: 1 login secrets stored; /);
        expect(fs.readFileSync(path.join(vm.state, "secret-hero_proxy_FORGE_CLIENT_SECRET"), "utf8")).toBe(rotated.clientSecret);
        expect(vm.changes().slice(before)).toEqual([
            "hero_proxy listen set 127.0.0.1:9997",
            "hero_proc secret set hero_proxy/FORGE_CLIENT_SECRET",
            expect.stringMatching(/^hero_proxy routes set /),
            "hero_proxy listen set [::]:9997",
        ]);
        for (const s of [rotated.clientSecret, SECRETS.clientSecret, SECRETS.sessionSecret]) {
            expect(vm.calls().join("\n")).not.toContain(s);
            expect(r.stdout + r.stderr).not.toContain(s);
        }
        // A rejected secret fails the step with the value redacted, and the door shut.
        vm.failOn("hero_proc secret set hero_proxy/*");
        const bad = await runStep(sshd, key, "front-door", values(vm, ["ana"]), vm.env(), { ...SECRETS, clientSecret: "gto_REJECTED" });
        vm.failOn();
        expect(bad.code).not.toBe(0);
        expect(bad.stderr).toMatch(/\(value \[redacted\] rejected\)/);
        expect(bad.stderr).not.toContain("gto_REJECTED");
        expect(await fromPeer(vm)).toEqual(SHUT);
        expect((await run(vm, ["front-door"], values(vm, ["ana"])))[0].code).toBe(0);
    });

    it("health: locked and alive passes", async () => {
        const [r] = await run(vm, ["health"], values(vm, ["ana"]));
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toMatch(/front door http:\/\/127\.0\.0\.1:\d+: locked, sends to its Forge login; Forge answers \(HTTP 200\)$/m);
    });

    describe("health fails, saying why", () => {
        const routes = () => path.join(vm.state, "proxy-routes.json");
        let saved = "";
        beforeAll(() => {
            saved = fs.readFileSync(routes(), "utf8");
        });
        const health = async () => (await run(vm, ["health"], values(vm, ["ana"]), vm.env({ healthTimeoutSec: 1 })))[0];
        const tamper = (f: (cfg: any) => void) => {
            const cfg = JSON.parse(saved);
            f(cfg);
            fs.writeFileSync(routes(), JSON.stringify(cfg));
        };

        it("a cockpit that answers 200 to anyone is 'open without login'", async () => {
            tamper((cfg) => cfg.routes.forEach((r: { auth_mode: string }) => (r.auth_mode = "none")));
            const r = await health();
            fs.writeFileSync(routes(), saved);
            expect(r.code).not.toBe(0);
            expect(r.stderr).toMatch(/health: FAILED: the front door is open without login: http:\/\/127\.0\.0\.1:\d+\/hero_cockpit\/web\/ answered HTTP 200/);
        });

        it("a login with another client id, or another redirect URI, is failing and says so", async () => {
            tamper((cfg) => (cfg.auth.client_id = "someone-elses-app"));
            const other = await health();
            tamper((cfg) => (cfg.auth.redirect_uri = "https://evil.example/oauth/callback"));
            const redirect = await health();
            fs.writeFileSync(routes(), saved);
            expect(other.code).not.toBe(0);
            expect(other.stderr).toMatch(`health: FAILED: the front door sends to the Forge login of another application: client_id someone-elses-app, not this environment's ${CLIENT_ID}`);
            expect(redirect.code).not.toBe(0);
            expect(redirect.stderr).toMatch(/health: FAILED: the front door's Forge login returns to https:\/\/evil\.example\/oauth\/callback, not http:\/\/127\.0\.0\.1:\d+\/oauth\/callback/);
        });

        it("a login page on another host is failing; a dead Forge is failing, and so is a Forge that serves no login there (404)", async () => {
            tamper((cfg) => (cfg.auth.authorize_url = "https://elsewhere.example/login/oauth/authorize"));
            const elsewhere = await health();
            fs.writeFileSync(routes(), saved);
            expect(elsewhere.stderr).toMatch(/health: FAILED: the front door does not send to this environment's Forge login: http:\/\/127\.0\.0\.1:\d+\/login\?next=\S+ redirects to https:\/\/elsewhere\.example\/login\/oauth\/authorize\?client_id=/);
            vm.forge.status = 502;
            const dead = await health();
            vm.forge.status = 200;
            expect(dead.code).not.toBe(0);
            expect(dead.stderr).toMatch(/health: FAILED: the front door is locked but the Forge login at http:\/\/127\.0\.0\.1:\d+\/login\/oauth\/authorize does not answer \(HTTP 502\)/);
            vm.forge.status = 404;
            const none = await health();
            vm.forge.status = 200;
            expect(none.code).not.toBe(0);
            expect(none.stderr).toMatch(/health: FAILED: the front door is locked but the Forge login at \S+ does not answer \(HTTP 404\)/);
        });

        it("a door that is shut (the gateway 502) is failing, not open", async () => {
            fs.writeFileSync(path.join(vm.state, "proxy-listen"), "127.0.0.1:9997\n");
            const r = await health();
            fs.writeFileSync(path.join(vm.state, "proxy-listen"), "[::]:9997\n");
            expect(r.stderr).toMatch(/health: FAILED: the gateway does not answer at http:\/\/127\.0\.0\.1:\d+\/hero_cockpit\/web\/ \(last HTTP status 502\)/);
        });
    });
});
