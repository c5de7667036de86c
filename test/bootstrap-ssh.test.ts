/**
 * The bootstrap scripts over a REAL OpenSSH server on loopback (Debian's sshd, its own
 * config and host key, a free port, the test's ED25519 key), run exactly as
 * remote.Command runs them: the command string and stdin that render.ts gives
 * bootstrap.ts. The scripts work under a throwaway root with stub lab/hero_proc/
 * hero_proxy/hero_router that record their calls, and a local HTTP server standing in
 * for downloads, hero_router and the gateway.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STEPS, type StepName, type StepValues } from "../components/render";
import { resolveServices } from "../users/catalog";
import { stepValues } from "./support/fixtures";
import { bundleRemotePath, renderBundle, renderStep } from "../components/bundle";
import { createFakeVm, generateClientKey, runStep, sshRun, sshdAvailable, startSshd, type ClientKey, type FakeVm, type Sshd } from "./ssh/harness";

const TOKEN = "tok-9f8e7d6c5b4a-SECRET";
const CLIENT_SECRET = "gto_client-3a4b5c6d7e8f-SECRET";
const SESSION_SECRET = "session-0a1b2c3d4e5f-SECRET";
const haveSshd = sshdAvailable();
if (!haveSshd && process.env.CI === "true") {
    throw new Error("CI: /usr/sbin/sshd is missing; .ci/run must install openssh-server");
}
if (!haveSshd) console.warn("SKIPPED bootstrap SSH tests: /usr/sbin/sshd is absent (apt-get install openssh-server)");

let key: ClientKey;
let sshd: Sshd;
let keyDir: string;
/** Everything any run printed, to search for the secret. */
const outputs: string[] = [];

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

function values(vm: FakeVm, chosen: Parameters<typeof resolveServices>[0]): StepValues {
    const v = stepValues({ host: vm.external, gatewayUrl: vm.gatewayUrl, forgeUrl: vm.url }, resolveServices(chosen));
    v.user.fullName = "Alice 'O$(x)` Example";
    return v;
}

async function step(vm: FakeVm, name: StepName, v: StepValues, token = TOKEN, env = vm.env()) {
    const r = await runStep(sshd, key, name, v, env, { forgeToken: token, clientSecret: CLIENT_SECRET, sessionSecret: SESSION_SECRET });
    outputs.push(r.stdout, r.stderr);
    return r;
}

async function all(vm: FakeVm, v: StepValues) {
    const results = [];
    for (const s of STEPS) {
        const r = await step(vm, s, v);
        expect(r.code, `${s}: ${r.stdout}${r.stderr}`).toBe(0);
        results.push(r);
    }
    return results;
}

/** Every file under `dir` except the stub's secret store. */
function filesUnder(dir: string): string[] {
    return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => path.join(e.parentPath, e.name));
}

describe.skipIf(!haveSshd)("bootstrap over real SSH", () => {
    let vm: FakeVm;
    beforeAll(async () => {
        vm = await createFakeVm();
    });
    afterAll(async () => {
        await vm?.close();
    });

    it("first run: installs lab and every selected binary, applies the definition, starts the services, sets up the front door", async () => {
        const results = await all(vm, values(vm, ["slides"]));
        expect(results[0].stdout).toMatch(/^ready: Ubuntu 24\.04 LTS \(fake\), memory 7957 MB, disk \d+ GB free of \d+ GB on \/$/m);
        expect(vm.downloads.requests).toEqual(["/lab/latest", ...["proc", "router", "proxy", "cockpit", "embedder", "books", "slides"].map((s) => `/dl/hero_${s}`)]);
        expect(vm.running()).toEqual(["hero_books", "hero_cockpit", "hero_embedder", "hero_proxy", "hero_router", "hero_slides"]);
        const def = JSON.parse(fs.readFileSync(path.join(vm.state, "proc-definition.json"), "utf8"));
        expect(def.services.map((s: { name: string }) => s.name)).toContain("hero_slides");
        const routes = JSON.parse(fs.readFileSync(path.join(vm.state, "proxy-routes.json"), "utf8"));
        expect(routes.auth.allowed_users).toEqual(["alice"]);
        expect(fs.readFileSync(path.join(vm.state, "access"), "utf8").split("\n").filter(Boolean)).toEqual(["127.0.0.1", "::1"]);
        expect(fs.readFileSync(path.join(vm.state, "proxy-listen"), "utf8").trim()).toBe("[::]:9997");
        expect(fs.readFileSync(path.join(vm.state, "secret-hero_proxy_FORGE_CLIENT_SECRET"), "utf8")).toBe(CLIENT_SECRET);
        expect(fs.readFileSync(path.join(vm.state, "secret-hero_proxy_SESSION_SECRET"), "utf8")).toBe(SESSION_SECRET);
        const settings = JSON.parse(fs.readFileSync(path.join(vm.root, "root/hero/cfg/hero_cockpit/settings.json"), "utf8"));
        expect(settings.notice).toMatch(/demo environment and data may be lost/);
        expect(settings.user.full_name).toBe("Alice 'O$(x)` Example");
        expect(fs.readFileSync(path.join(vm.state, "secret-cockpit_USER_FORGE_TOKEN"), "utf8")).toBe(TOKEN);
        expect(vm.changes()).toContain("hero_books_server collection import --name demo --git https://forge.example.org/lhumina_public/ourworld_public.git");
        expect(results[6].stdout).toMatch(/front door http:\/\/127\.0\.0\.1:\d+: locked, sends to its Forge login; Forge answers \(HTTP 200\)/);
    });

    it("second run: changes nothing and downloads nothing (books are not loaded twice)", async () => {
        const changes = vm.changes().length;
        const bytes = vm.downloads.bytes;
        const results = await all(vm, values(vm, ["slides"]));
        expect(vm.changes().slice(changes)).toEqual([]);
        expect(vm.downloads.bytes).toBe(bytes);
        expect(results[5].stdout).toMatch(/already loaded/);
    });

    it("each step prints one short line on stdout and nothing on stderr (both are kept in state); details go to its log", async () => {
        const results = await all(vm, values(vm, ["slides"]));
        for (const [i, r] of results.entries()) {
            expect(r.stdout.trimEnd().split("\n"), STEPS[i]).toHaveLength(1);
            expect(r.stdout.startsWith(`${STEPS[i]}: `), r.stdout).toBe(true);
            expect(Buffer.byteLength(r.stdout), r.stdout).toBeLessThan(200);
            expect(r.stderr, STEPS[i]).toBe("");
            expect(r.stdinBytes, STEPS[i]).toBeLessThan(400);
        }
        expect(fs.readFileSync(path.join(vm.root, "var/log/hero-os-grid-deployer/services.log"), "utf8")).toMatch(/hero_slides: running/);
    });

    it("a step refuses a bundle on the VM that is not the one it was rendered with, and says what to do", async () => {
        const v = values(vm, ["slides"]);
        const env = vm.env();
        // The VM holds the bundle for another selection; the step's stdin is for this one.
        const stale = renderBundle(values(vm, []), env);
        fs.writeFileSync(bundleRemotePath(env.root), stale.text);
        const { command, stdin } = renderStep("services", renderBundle(v, env), env);
        const changes = vm.changes().length;
        const r = await sshRun(sshd, key, command, stdin);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(/services: FAILED: the bootstrap bundle on the VM has digest [0-9a-f]{12} for this step, not [0-9a-f]{12}.*pulumi up --replace/);
        expect(vm.changes().slice(changes)).toEqual([]);
        fs.rmSync(bundleRemotePath(env.root));
        const missing = await sshRun(sshd, key, command, stdin);
        expect(missing.code).not.toBe(0);
        expect(missing.stderr).toMatch(/services: FAILED: no bootstrap bundle on the VM; run: pulumi up --replace <urn of alice-scripts>/);
    });

    it("removing a service stops and removes it, re-routes the proxy, and leaves the others running untouched", async () => {
        const changes = vm.changes().length;
        const bytes = vm.downloads.bytes;
        const v = values(vm, []);
        for (const s of ["install", "services", "front-door"] as const) expect((await step(vm, s, v)).code).toBe(0);
        expect(vm.changes().slice(changes)).toEqual([
            "hero_proc service stop hero_slides",
            "hero_proc service remove hero_slides",
            expect.stringMatching(/^hero_proc action set .*hero_os_demo\.json$/),
            // The door is shut while its routes change, and opened again only after.
            "hero_proxy listen set 127.0.0.1:9997",
            expect.stringMatching(/^hero_proxy routes set /),
            "hero_proxy listen set [::]:9997",
        ]);
        expect(vm.running()).not.toContain("hero_slides");
        expect(vm.running()).toContain("hero_books");
        expect(vm.downloads.bytes).toBe(bytes);
        expect(fs.readFileSync(path.join(vm.state, "proxy-routes.json"), "utf8")).not.toContain("slides");
    });

    it("adding a service downloads and starts only that one (installed binaries are not installed again)", async () => {
        const v = values(vm, ["whiteboard"]);
        const requests = vm.downloads.requests.length;
        for (const s of ["install", "services"] as const) expect((await step(vm, s, v)).code).toBe(0);
        expect(vm.downloads.requests.slice(requests)).toEqual(["/dl/hero_whiteboard"]);
        expect(vm.running()).toContain("hero_whiteboard");
    });

    it("a failing lab ends install non-zero, naming the service and showing the log", async () => {
        vm.failOn("lab build hero_agents *");
        const r = await step(vm, "install", values(vm, ["agents"]));
        vm.failOn();
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(/install: FAILED: agents: installing hero_agents \(latest\) with lab build --download --install \(exit 1\)/);
        expect(r.stderr).toMatch(/simulated failure of 'lab build hero_agents/);
    });

    it("a failing hero_proc start ends services non-zero, naming the service", async () => {
        vm.failOn("hero_proc service start hero_agents");
        expect((await step(vm, "install", values(vm, ["agents"]))).code).toBe(0);
        const r = await step(vm, "services", values(vm, ["agents"]));
        vm.failOn();
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(/services: FAILED: hero_agents: starting \(exit 1\)/);
    });

    it("health names the service that is down and shows its last log lines", async () => {
        const r = await step(vm, "health", values(vm, ["agents"]), TOKEN, vm.env({ healthTimeoutSec: 1 }));
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(/health: FAILED: agents is down \(hero_agents did not answer at http:\/\/127\.0\.0\.1:\d+\/hero_agents\/rpc\/health\)/);
        expect(r.stderr).toMatch(/hero_agents: error: cannot bind socket/);
        expect(r.stderr).not.toMatch(/FAILED: (books|cockpit)/);
    });

    it("a failing Books import does not fail the run", async () => {
        fs.rmSync(path.join(vm.root, "var/lib/hero-os-grid-deployer/applied/books.repo"));
        vm.failOn("hero_books_server collection import *");
        const r = await step(vm, "books", values(vm, []));
        vm.failOn();
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(/WARNING: loading the demo content failed/);
    });

    it("a new Forge token reaches hero_proc on stdin; a rejected one fails with the value redacted", async () => {
        const newToken = "tok-NEW-0123456789";
        vm.failOn("hero_proc secret set *");
        const bad = await step(vm, "cockpit-settings", values(vm, []), newToken);
        vm.failOn();
        expect(bad.code).not.toBe(0);
        expect(bad.stderr).toMatch(/FAILED: hero_proc: storing secret cockpit\/USER_FORGE_TOKEN/);
        expect(bad.stderr).toMatch(/\(value \[redacted\] rejected\)/);
        expect(bad.stdout + bad.stderr).not.toContain(newToken);
        const good = await step(vm, "cockpit-settings", values(vm, []), newToken);
        expect(good.code).toBe(0);
        expect(fs.readFileSync(path.join(vm.state, "secret-cockpit_USER_FORGE_TOKEN"), "utf8")).toBe(newToken);
    });

    it("no secret appears in any recorded command line, output, log or file the scripts wrote", async () => {
        // Produce here what is searched, so this test proves something when run alone too
        // (it used to search only what earlier tests had left, and passed on nothing).
        const before = outputs.length;
        await all(vm, values(vm, ["slides"]));
        expect((await step(vm, "cockpit-settings", values(vm, []), "tok-NEW-0123456789")).code).toBe(0);
        expect(outputs.length).toBeGreaterThan(before);
        expect(vm.calls().some((c) => /hero_proc secret set/.test(c))).toBe(true);
        for (const secret of [TOKEN, "tok-NEW-0123456789", CLIENT_SECRET, SESSION_SECRET]) {
            expect(vm.calls().join("\n")).not.toContain(secret);
            for (const out of outputs) expect(out).not.toContain(secret);
            for (const file of [...filesUnder(vm.root), ...filesUnder(vm.state).filter((f) => !/\/secret-[^/]+$/.test(f))]) {
                expect(fs.readFileSync(file, "utf8"), file).not.toContain(secret);
            }
        }
        // The step logs are private to root.
        for (const log of fs.readdirSync(path.join(vm.root, "var/log/hero-os-grid-deployer"))) {
            expect(fs.statSync(path.join(vm.root, "var/log/hero-os-grid-deployer", log)).mode & 0o077).toBe(0);
        }
    });
});

describe.skipIf(!haveSshd)("ready over real SSH", () => {
    it("waits for cloud-init's boot-finished, and fails clearly when it never comes", async () => {
        const vm = await createFakeVm();
        try {
            fs.mkdirSync(path.join(vm.root, "var/lib/cloud/instance"), { recursive: true });
            const v = values(vm, []);
            const late = await step(vm, "ready", v, TOKEN, vm.env({ readyTimeoutSec: 1 }));
            expect(late.code).not.toBe(0);
            expect(late.stderr).toMatch(/ready: FAILED: the VM's init did not finish within 1s/);
            fs.writeFileSync(path.join(vm.root, "var/lib/cloud/instance/boot-finished"), "");
            const ok = await step(vm, "ready", v, TOKEN, vm.env({ readyTimeoutSec: 1 }));
            expect(ok.code, ok.stderr).toBe(0);
            expect(ok.stdout.trim().split("\n")).toHaveLength(1);
        } finally {
            await vm.close();
        }
    });
});
