/**
 * What only the real `pulumi` CLI can show (test/engine/), on the rehearsal's
 * world: `npm run deploy` itself, secrets encrypted in the real state file, the
 * preview a reviewer reads in a pull request (a golden file), `pulumi up
 * --target` for one user, `pulumi refresh` after drift, `npm run handout` and
 * `npm run teardown` on the real stack, and `pulumi destroy`. In order, on one
 * world and one stack.
 */
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { environmentUrn } from "../scripts/lib/project";
import { PROJECT, REPO_ROOT } from "./engine/cli";
import { isCiphertext, loadState } from "./engine/state";
import { changes, type RunResult } from "./rehearsal/runner";
import { STACK, World } from "./rehearsal/world";

let world: World;
const USERS = [{ username: "alice" }, { username: "bob", services: ["slides"] }, { username: "carol" }];
const GOLDEN = path.join(__dirname, "fixtures", "preview", "services-change.txt");
const changedNames = (r: RunResult) => changes(r).map((o) => `${o.op} ${o.name}`);

/** An admin command's entry point (bash or ts-node), in the stack's project directory, with the workspace's CLI. */
function admin(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    const ts = file.endsWith(".ts");
    return new Promise((resolve) => {
        execFile(
            ts ? path.join(REPO_ROOT, "node_modules", ".bin", "ts-node") : "bash",
            [path.join(REPO_ROOT, "scripts", file), ...args],
            { cwd: world.workspace.projectDir, env: world.workspace.env({ TS_NODE_TRANSPILE_ONLY: "true", ...env }), maxBuffer: 64 << 20, timeout: 240_000 },
            (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
        );
    });
}

/**
 * `pulumi preview --diff` as a reviewer reads it, made stable: this world's
 * temporary paths, loopback addresses and ports, digests and timings replaced
 * by placeholders, the stand-in plugins' notices (test/engine/plugins.ts) left out.
 */
export function normalizePreview(text: string, w: { dir: string }): string {
    return text
        .split("\n")
        .filter((l) => !/using pulumi-resource-(command|tls|random) from \$PATH|resource plugin (command|tls|random) is expected to have version/.test(l))
        .filter((l) => !l.startsWith("@ ")) // progress dots, as many as the run took
        .join("\n")
        .replaceAll(w.dir, "<world>")
        .replace(new RegExp(`${os.tmpdir()}/hb-vm-\\w+`, "g"), "<vm>")
        .replace(/127\.0\.\d+\.\d+/g, "<loopback>")
        .replace(/(<loopback>|localhost):\d+/g, "$1:<port>")
        .replace(/\[id=[^\]]+\]/g, "[id=<id>]")
        .replace(/::[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\]/g, "::<uuid>]")
        .replace(/(oauthClientId\s*: )"[0-9a-f-]+"/g, '$1"<client id>"') // a Forge OAuth2 client id is a fresh UUID each run
        .replace(/ssh-ed25519 AAAA[A-Za-z0-9+/=]+/g, "ssh-ed25519 <key>")
        .replace(/\b[0-9a-f]{64}\b/g, "<sha256>")
        .replace(/\b[0-9a-f]{12}\b/g, "<digest>")
        .replace(/asset\(file:[0-9a-f]{7}\)/g, "asset(file:<digest>)")
        .replace(/\(id \d+\)/g, "(id <n>)")
        .replace(/(vmId\s*: )"[0-9a-z]+"/g, '$1"<vm id>"') // the fake's VM ids ("201")
        .replace(/("vm=[^"#]+#)[0-9a-z]+"/g, '$1<vm id>"') // and in the VM identity the ready step and the copy are triggered by
        .replace(/Duration: \d+s/g, "Duration: <t>")
        .replace(/[ \t]+$/gm, "");
}

beforeAll(async () => {
    world = await World.start(["alice", "bob", "carol"]);
});

afterAll(async () => {
    await world?.stop();
});

describe.sequential("the admin's commands under the real pulumi CLI", { timeout: 300_000 }, () => {
    it("1. npm run deploy (scripts/deploy.sh) selects the stack and runs pulumi up: three users deployed", async () => {
        world.writeUsers(USERS);
        await world.workspace.writeConfig(STACK, world.config(), ["forgeToken"]);
        const r = await admin("deploy.sh", ["--yes", "--skip-preview", "--non-interactive"], { STACK });
        expect(r.stderr + r.stdout).toContain(`deploy: stack ${STACK}, backend file://${world.workspace.backendDir}`);
        expect(r.code, r.stderr + r.stdout.slice(-3000)).toBe(0);
        for (const u of ["alice", "bob", "carol"]) expect(world.compute.vm(`rh${u}`)?.state).toBe("running");
        expect(world.machines.get("bob")!.vm.running()).toContain("hero_slides");
    });

    it("2. the real state file and the stack's config file hold no password, token or private key in clear text", async () => {
        const out = JSON.parse(await world.workspace.must(["stack", "output", "--json", "--show-secrets", "--stack", STACK]));
        const secrets: string[] = [world.forge.adminToken];
        for (const c of Object.values<any>(out.credentials)) {
            secrets.push(c.password, c.forgeToken, ...c.sshPrivateKey.split("\n").filter((l: string) => l.length > 20));
        }
        // The front door's login secrets, as they reached each fake VM's Hero Proc (on front-door's stdin): nowhere in state either.
        for (const m of world.machines.values()) {
            for (const key of ["hero_proxy_FORGE_CLIENT_SECRET", "hero_proxy_SESSION_SECRET"]) {
                const file = path.join(m.vm.state, `secret-${key}`);
                if (fs.existsSync(file)) secrets.push(fs.readFileSync(file, "utf8"));
            }
        }
        expect(secrets.filter(Boolean).length).toBeGreaterThanOrEqual(3 * 5 + 1);
        const files: string[] = [];
        const walk = (d: string) => fs.readdirSync(d, { withFileTypes: true }).forEach((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : files.push(path.join(d, e.name))));
        walk(world.workspace.backendDir);
        files.push(world.workspace.configFile(STACK));
        expect(files.length).toBeGreaterThan(3);
        for (const f of files) {
            const text = fs.readFileSync(f, "utf8");
            for (const s of secrets.filter(Boolean)) expect(text.includes(s), `${path.relative(world.dir, f)} holds a secret in clear`).toBe(false);
        }
        // And they are there, encrypted: the password's result and the key's private parts.
        const state = Object.values(loadState(world.stateFile()).resources);
        expect(isCiphertext(state.find((x) => x.name === "alice-password")!.outputs.result)).toBe(true);
        expect(isCiphertext(state.find((x) => x.name === "alice-ssh-key")!.outputs.privateKeyOpenssh)).toBe(true);
    });

    it("3. what a pull request's preview looks like: bob's services [slides] -> [slides, whiteboard] names only bob's resources, updated in place", async () => {
        world.writeUsers([USERS[0], { username: "bob", services: ["slides", "whiteboard"] }, USERS[2]]);
        await world.workspace.writeConfig(STACK, world.config(), ["forgeToken"]);
        const r = await world.workspace.pulumi(["preview", "--diff", "--color", "never", "--non-interactive", "--stack", STACK]);
        expect(r.code, r.stderr).toBe(0);
        const text = normalizePreview(r.stdout, world);
        if (process.env.UPDATE_GOLDEN === "1") fs.writeFileSync(GOLDEN, text);
        expect(text).toBe(fs.readFileSync(GOLDEN, "utf8"));
        // What the golden file shows: updates (~) of bob's steps, no replacement, no other user.
        const steps = text.split("\n").filter((l) => /^\s*[~+-]{1,3}\s+\S+:\S+/.test(l) || /^\s*\+-/.test(l));
        expect(steps.length).toBeGreaterThan(0);
        expect(text).toMatch(/~ +command:remote:Command: \(update\)/);
        expect(text).not.toMatch(/\(replace\)|\+- /);
        for (const who of ["alice", "carol"]) expect(text).not.toContain(`::${who}-`);
        expect(text).toContain("::bob-services");
    });

    it("4. pulumi up --target one user's environment (--target-dependents) changes that user only", async () => {
        world.writeUsers([{ username: "alice", services: ["books"] }, { username: "bob", services: ["slides", "whiteboard"] }, USERS[2]]);
        const aliceBefore = world.machines.get("alice")!.vm.changes().length;
        const r = await world.run("up", {}, ["--target", environmentUrn(STACK, PROJECT, "bob"), "--target-dependents"]);
        expect(r.errors).toEqual([]);
        expect(changedNames(r).length).toBeGreaterThan(0);
        expect(changes(r).every((o) => o.name.startsWith("bob-"))).toBe(true);
        expect(world.machines.get("bob")!.vm.running()).toContain("hero_whiteboard");
        expect(world.machines.get("alice")!.vm.changes()).toHaveLength(aliceBefore);
        // The untargeted change waits for the next full update.
        const all = await world.run("up");
        expect(all.errors).toEqual([]);
        expect(changes(all).every((o) => o.name.startsWith("alice-"))).toBe(true);
    });

    it("5. drift: carol's VM deleted behind the stack's back, alice's gateway re-pointed: refresh records both, up rebuilds carol and leaves the hijacked name alone until it is freed", async () => {
        world.compute.vanish("rhcarol");
        const gw = world.compute.gateways.get("rhalice")!;
        const backend = gw.backend;
        gw.backend = "http://[2001:db8::1]:9997";
        const refresh = await world.run("refresh");
        expect(refresh.errors).toEqual([]);
        const names = () => Object.values(loadState(world.stateFile()).resources).map((x) => x.name);
        expect(names()).not.toContain("carol-vm");
        expect(names()).not.toContain("alice-gateway");
        // A gateway pointing elsewhere is not ours: waited for briefly, then refused, never touched.
        const up = await world.run("up", { gatewayReleaseWaitSeconds: "1" });
        expect(up.errors.join("\n")).toMatch(/alice-gateway: alice: the gateway name "rhalice" is held by a gateway pointing at http:\/\/\[2001:db8::1\]:9997, not at this user's VM/);
        expect(world.compute.gateways.get("rhalice")?.backend).toBe("http://[2001:db8::1]:9997");
        expect(changedNames(up)).toContain("create carol-vm");
        expect([...world.compute.vms.values()].filter((v) => v.name === "rhcarol")).toHaveLength(1);
        // Whoever held the name lets it go: the next up takes it back and converges.
        world.compute.gateways.delete("rhalice");
        const again = await world.run("up");
        expect(again.errors).toEqual([]);
        expect(world.compute.gateways.get("rhalice")?.backend).toBe(backend);
        expect(world.compute.vm("rhcarol")?.state).toBe("running");
        expect(world.machines.get("carol")!.vm.running()).toContain("hero_cockpit");
        expect(changes(await world.run("up"))).toEqual([]);
    });

    it("6. npm run handout and npm run teardown <user> on the real stack", async () => {
        const hand = await admin("handout.ts", ["alice", "--stack", STACK]);
        expect(hand.code, hand.stderr).toBe(0);
        expect(hand.stdout).toContain("Welcome to your Hero OS demo environment, alice!");
        expect(hand.stdout).toContain("Password:  (sent to you separately)");
        const down = await admin("teardown.ts", ["carol", "--stack", STACK, "--yes"]);
        expect(down.code, down.stderr + down.stdout.slice(-3000)).toBe(0);
        expect(world.compute.vm("rhcarol")).toBeUndefined();
        expect(world.compute.gateways.has("rhcarol")).toBe(false);
        expect(Object.keys(loadState(world.stateFile()).resources).filter((u) => /::carol(-|$)/.test(u))).toEqual([]);
        expect(world.compute.vm("rhalice")?.state).toBe("running");
    });

    it("7. pulumi destroy removes every VM, gateway and account the stack made", async () => {
        const r = await world.run("destroy");
        expect(r.errors).toEqual([]);
        expect(world.compute.vms.size).toBe(0);
        expect(world.compute.gateways.size).toBe(0);
        expect(Object.keys(loadState(world.stateFile()).resources)).toEqual([]);
    });
});
