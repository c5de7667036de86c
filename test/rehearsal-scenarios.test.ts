/**
 * Whole runs of the program under the real `pulumi` CLI (test/engine/, file
 * backend): the fake Forgejo, the fake Hero Compute answering loopback mycelium
 * IPs, one sshd per fake VM with the bootstrap harness's stub Hero tools. The
 * scenarios build on each other, in order, on one world and one stack.
 */
import { FRONT_DOOR_PORT } from "../components/hero-cli";
import * as fs from "fs";
import * as os from "os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportState, loadState } from "./engine/state";
import { changes, rehearse, type RunResult } from "./rehearsal/runner";
import { GATEWAY_DOMAIN, STACK, World } from "./rehearsal/world";

let world: World;
const changed = changes;
const names = (r: RunResult, user: string) => changed(r).filter((o) => o.name === user || o.name.startsWith(`${user}-`));
const THREE = [{ username: "alice" }, { username: "bob", services: ["slides"] }, { username: "carol" }];

beforeAll(async () => {
    world = await World.start(["alice", "bob", "carol", "dave", "erin"]);
});

afterAll(async () => {
    await world?.stop();
});

// A bound, not a measure: several whole runs each, on 2 shared cores.
describe.sequential("rehearsal of whole runs", { timeout: 240_000 }, () => {
    it("1. three users end up with Forge accounts, VMs, gateways and bootstrapped services", async () => {
        world.writeUsers(THREE);
        const r = await world.run("up");
        expect(r.errors).toEqual([]);
        for (const u of ["alice", "bob", "carol"]) {
            expect(world.forge.user(u)?.email).toBe(`${u}@example.org`);
            expect(world.forge.tokensOf(u)).toHaveLength(1);
            expect(world.forge.collaborators("lhumina_public/feedback")[u]).toBeDefined();
            const m = world.machines.get(u)!;
            const vm = world.compute.vm(`rh${u}`);
            expect(vm).toMatchObject({ state: "running", mycelium_ip: m.host });
            // The default (tracker) dialect's gateways name no VM: they are ours by their backend.
            expect(world.compute.gateways.get(`rh${u}`)).toMatchObject({ backend: `http://${m.host}:${FRONT_DOOR_PORT}`, vm_id: world.compute.dialect === "tracker" ? null : vm!.id });
            expect(m.vm.running()).toEqual(expect.arrayContaining(["hero_router", "hero_proxy", "hero_cockpit", "hero_embedder", "hero_books"]));
            expect(m.vm.calls()).toContain("hero_proc secret set cockpit/USER_FORGE_TOKEN");
            expect(world.gatewayHits).toContain(`rh${u}.${GATEWAY_DOMAIN}`);
            expect(r.outputs.environments[u]).toMatchObject({ myceliumIp: m.host, gatewayFqdn: `rh${u}.${GATEWAY_DOMAIN}` });
        }
        expect(world.machines.get("bob")!.vm.running()).toContain("hero_slides");
        expect(world.machines.get("alice")!.vm.running()).not.toContain("hero_slides");
        // Every SSH command and copy went to its own user's VM.
        for (const c of r.commands) {
            const user = /Environment\$command:remote:(?:Command|CopyToRemote)::([a-z]+)-/.exec(c.urn)![1];
            expect(c.line).toContain(`@${world.machines.get(user)!.host}`);
        }
        // The bundle was copied once per user, before the steps; state keeps its path and hash, not its text.
        const resources = Object.values(loadState(world.stateFile()).resources);
        for (const u of ["alice", "bob", "carol"]) {
            const m = world.machines.get(u)!;
            expect(r.commands.filter((c) => c.urn.endsWith(`::${u}-scripts`)).map((c) => c.line)).toEqual([`sftp ${os.userInfo().username}@${m.host}: put ${u}.sh ${m.vm.root}/var/lib/hero-os-grid-deployer/bootstrap.sh`]);
            const copy = resources.find((x) => x.name === `${u}-scripts`)!;
            expect(copy.type).toBe("command:remote:CopyToRemote");
            const local = fs.readFileSync(copy.outputs.source.path, "utf8");
            expect(copy.outputs.source.hash).toBe(require("crypto").createHash("sha256").update(local).digest("hex"));
            expect(JSON.stringify(copy)).not.toContain("hb_step_health");
            expect(fs.readFileSync(copy.outputs.remotePath, "utf8")).toBe(local);
            const firstStep = r.ops.findIndex((o) => o.name === `${u}-ready`);
            expect(r.ops.findIndex((o) => o.name === `${u}-scripts`)).toBeLessThan(firstStep);
        }
        // Each step stored one short line of output.
        for (const x of resources.filter((y) => y.type === "command:remote:Command")) {
            expect(String(x.outputs.stdout ?? "").split("\n"), x.name).toHaveLength(1);
        }
    });

    it("2. a second run changes nothing: no create, no update, no remote command", async () => {
        const forgeWrites = world.forge.requests.filter((q) => q.method !== "GET").length;
        const deploys = (world.compute.calls.deploy_vm ?? 0) + (world.compute.calls.deploy_webgateway ?? 0);
        const stubCalls = world.machines.get("alice")!.vm.changes().length;
        const r = await world.run("up");
        expect(r.errors).toEqual([]);
        expect(changed(r)).toEqual([]);
        expect(r.commands).toEqual([]);
        expect(world.forge.requests.filter((q) => q.method !== "GET").length).toBe(forgeWrites);
        expect((world.compute.calls.deploy_vm ?? 0) + (world.compute.calls.deploy_webgateway ?? 0)).toBe(deploys);
        expect(world.machines.get("alice")!.vm.changes()).toHaveLength(stubCalls);
    });

    it("3. a backend failing after its change is made, then a re-run: converges, nothing leaked or duplicated", async () => {
        world.writeUsers([...THREE, { username: "dave" }]);
        // Answers lost after the change was made: Hero Compute's deploy_vm and Forge's user creation
        // (the providers look up and adopt within the run) ...
        world.compute.fault("drop", { method: "deploy_vm" });
        world.forge.inject("POST", "/admin/users", { kind: "reset", when: "after" });
        // ... and dave's VM failing mid-bootstrap, after install changed it: this one stops the run.
        world.machines.get("dave")!.vm.failOn("hero_proc service start hero_cockpit");
        const crashed = await world.run("up");
        expect(crashed.ok).toBe(false);
        expect(crashed.errors.join("\n")).toMatch(/dave-services: Process exited/);
        expect(world.compute.calls.deploy_vm).toBeGreaterThan(3);
        expect(world.compute.vm("rhdave")).toBeDefined();
        expect(loadState(world.stateFile()).resources).not.toHaveProperty([Object.keys(loadState(world.stateFile()).resources).find((u) => u.endsWith("::dave-services")) ?? "none"]);
        world.machines.get("dave")!.vm.failOn();
        const again = await world.run("up");
        expect(again.errors).toEqual([]);
        expect(names(again, "dave").map((o) => `${o.op} ${o.name}`)).toEqual(
            ["services", "front-door", "cockpit-settings", "books", "health"].map((s) => `create dave-${s}`),
        );
        expect([...world.compute.vms.values()].filter((v) => v.name === "rhdave")).toHaveLength(1);
        expect([...world.compute.gateways.keys()].filter((g) => g === "rhdave")).toHaveLength(1);
        expect([...world.forge.users.values()].filter((u) => u.login === "dave")).toHaveLength(1);
        expect(world.forge.tokensOf("dave")).toHaveLength(1);
        expect(world.compute.vms.size).toBe(4);
        expect(world.machines.get("dave")!.vm.running()).toContain("hero_cockpit");
        // Only dave was touched, and a third run is quiet.
        expect(changed(crashed).concat(changed(again)).every((o) => o.name.startsWith("dave"))).toBe(true);
        expect(changed(await world.run("up"))).toEqual([]);
    });

    it("4. one service added to one user re-runs only that user's affected steps", async () => {
        world.writeUsers([THREE[0], { username: "bob", services: ["slides", "whiteboard"] }, THREE[2], { username: "dave" }]);
        const before = world.machines.get("alice")!.vm.changes().length;
        const r = await world.run("up");
        expect(r.errors).toEqual([]);
        expect(changed(r).length).toBeGreaterThan(0);
        expect(changed(r).every((o) => o.name.startsWith("bob-"))).toBe(true);
        const touched = new Set(changed(r).map((o) => o.name));
        for (const untouched of ["bob-vm", "bob-gateway", "bob-forge-account", "bob-ssh-key", "bob-password", "bob-ready"]) {
            expect(touched.has(untouched)).toBe(false);
        }
        expect(touched.has("bob-services")).toBe(true);
        // The new bundle was copied again; install ran again in place (its parameters changed).
        expect(touched.has("bob-scripts")).toBe(true);
        expect(changed(r).find((o) => o.name === "bob-install")?.op).toBe("update");
        expect(world.machines.get("bob")!.vm.running()).toContain("hero_whiteboard");
        expect(r.commands.every((c) => c.line.includes(`@${world.machines.get("bob")!.host}:`))).toBe(true);
        expect(world.machines.get("alice")!.vm.changes()).toHaveLength(before);
    });

    it("5. teardown of one user: reverse dependency order, nothing of theirs left, the others untouched", async () => {
        const state = loadState(world.stateFile());
        world.writeUsers([THREE[0], { username: "bob", services: ["slides", "whiteboard"] }, { username: "dave" }]);
        const r = await world.run("up");
        expect(r.errors).toEqual([]);
        expect(changed(r).every((o) => o.name === "carol" || o.name.startsWith("carol-"))).toBe(true);
        const done = r.ops.filter((o) => o.op === "delete").map((o) => o.urn);
        const carol = Object.values(state.resources).filter((x) => x.name === "carol" || x.name.startsWith("carol-"));
        expect(new Set(done)).toEqual(new Set(carol.map((x) => x.urn)));
        // Each resource goes after everything that depends on it (or is its child).
        for (const x of carol) {
            for (const dep of [...x.deps, ...(x.parent ? [x.parent] : [])].filter((d) => done.includes(d))) {
                expect(done.indexOf(x.urn), `${x.name} before ${dep}`).toBeLessThan(done.indexOf(dep));
            }
        }
        // Bootstrap steps go with the VM (deletedWith): the engine reports their delete
        // steps, but runs no delete command over SSH to a VM being deleted.
        expect(done.map((u) => u.split("::").pop())).toContain("carol-install");
        expect(r.commands).toEqual([]);
        expect(world.compute.vm("rhcarol")).toBeUndefined();
        expect(world.compute.gateways.has("rhcarol")).toBe(false);
        expect(world.forge.user("carol")).toBeUndefined();
        expect(world.compute.vms.size).toBe(3);
        expect(Object.keys(loadState(world.stateFile()).resources).filter((u) => u.includes("carol"))).toEqual([]);
    });

    it("6. a preview makes no create call and no network call at all", async () => {
        world.writeUsers([THREE[0], { username: "bob", services: ["slides"] }, { username: "erin" }]);
        const requests = world.requestCount();
        const stateBefore = fs.readFileSync(world.stateFile(), "utf8");
        const stubCalls = world.machines.get("bob")!.vm.calls().length;
        const r = await world.run("preview");
        expect(r.errors).toEqual([]);
        expect(world.requestCount()).toBe(requests);
        expect(r.commands).toEqual([]);
        expect(world.machines.get("bob")!.vm.calls()).toHaveLength(stubCalls);
        expect(fs.readFileSync(world.stateFile(), "utf8")).toBe(stateBefore);
        expect(r.ops.every((o) => o.preview)).toBe(true);
        // What it would do: create erin, change bob's services, delete dave.
        expect(names(r, "erin").map((o) => o.op)).toEqual(expect.arrayContaining(["create"]));
        expect(names(r, "erin").every((o) => o.op === "create")).toBe(true);
        expect(names(r, "bob").map((o) => o.name)).toContain("bob-services");
        expect(names(r, "dave").every((o) => o.op === "delete")).toBe(true);
        expect(names(r, "alice")).toEqual([]);
    });

    it("7. least privilege: with the PR preview job's config (no forgeToken, no computeToken) the preview plans the same changes and calls neither the Forge nor Hero Compute", async () => {
        const { forgeToken: _admin, ...config } = world.config();
        const forge = world.forge.requests.length;
        const compute = world.compute.requests.length;
        const r = await rehearse("preview", { workspace: world.workspace, stack: STACK, config, secretKeys: [] });
        expect(fs.readFileSync(world.workspace.configFile(STACK), "utf8")).not.toMatch(/forgeToken|computeToken/);
        expect(r.errors).toEqual([]);
        expect(world.forge.requests.length).toBe(forge);
        expect(world.compute.requests.length).toBe(compute);
        expect(r.commands).toEqual([]);
        expect(names(r, "erin").map((o) => o.op)).toEqual(expect.arrayContaining(["create"]));
        expect(names(r, "bob").map((o) => o.name)).toContain("bob-services");
        expect(names(r, "dave").every((o) => o.op === "delete")).toBe(true);
    });
});
