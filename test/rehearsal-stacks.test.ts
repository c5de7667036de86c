/**
 * Two stacks on one Forge and one Hero Compute, from the same users file,
 * under the real `pulumi` CLI (test/engine/), in one file backend: `dev` and `staging` with their
 * default grid-name prefixes. Then, on dev: a look-alike VM is refused, two users
 * swap gateway names in one update, and `npm run audit` finds, deletes and then
 * no longer finds the orphans of a create whose state write was lost.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultNamePrefix } from "../components/naming";
import { cockpitTokenName, ownerMarker, stackIdentity } from "../providers/ownership";
import { runAudit } from "../scripts/audit";
import { spawnPulumi } from "../scripts/lib/pulumi-cli";
import { loadState } from "./engine/state";
import { changes } from "./rehearsal/runner";
import { World, type StackSpec } from "./rehearsal/world";

const PROJECT = "hero-os-grid-deployer";
const id = (stack: string) => stackIdentity("organization", PROJECT, stack);
const prefix = (stack: string) => defaultNamePrefix(stack, id(stack).id);
const USERS = ["alice", "bob"];

let world: World;
let dev: StackSpec;
let staging: StackSpec;

beforeAll(async () => {
    world = await World.start(USERS, { otherPrefixes: [prefix("dev"), prefix("staging")] });
    dev = { stack: "dev", prefix: prefix("dev"), defaultPrefix: true };
    staging = { stack: "staging", prefix: prefix("staging"), defaultPrefix: true };
});

afterAll(async () => {
    await world?.stop();
});

/** What dev handed out and holds, to compare after staging has come and gone. */
interface DevSnapshot {
    passwords: Record<string, string>;
    tokens: Record<string, string>;
    vms: Record<string, string>;
    gateways: string[];
}
let before: DevSnapshot;

// A bound, not a measure: several whole runs each, on 2 shared cores.
describe.sequential("rehearsal: two stacks sharing one Forge and one Hero Compute", { timeout: 240_000 }, () => {
    it("1. dev deploys with its default prefix and marks its accounts with its identity", async () => {
        expect(prefix("dev")).toMatch(/^dev[0-9a-f]{4}$/);
        expect(prefix("staging")).not.toBe(prefix("dev"));
        world.writeUsers(USERS.map((username) => ({ username })));
        const r = await world.runStack(dev, "up", { purgeAccountsOnTeardown: "false" });
        expect(r.errors).toEqual([]);
        expect(r.outputs.stack).toEqual({ ...id("dev"), namePrefix: prefix("dev") });
        before = { passwords: {}, tokens: {}, vms: {}, gateways: [] };
        for (const u of USERS) {
            expect(world.forge.user(u)?.description).toContain(ownerMarker(id("dev")));
            expect(world.forge.tokensOf(u).map((t) => t.name)).toEqual([cockpitTokenName(id("dev"))]);
            before.passwords[u] = r.outputs.credentials[u].password;
            before.tokens[u] = r.outputs.credentials[u].forgeToken;
            before.vms[u] = world.compute.vm(`${prefix("dev")}${u}`)!.id;
            before.gateways.push(`${prefix("dev")}${u}`);
        }
    });

    it("2. staging, from the same users file, adopts dev's accounts read-only and deploys its own VMs and gateways", async () => {
        const r = await world.runStack(staging, "up", { purgeAccountsOnTeardown: "true" });
        expect(r.errors).toEqual([]);
        for (const u of USERS) {
            expect(r.outputs.environments[u].forgeManagedBy).toBe(`${u} is managed by stack ${id("dev").stack} (${id("dev").id})`);
            expect(r.outputs.credentials[u].forgeToken).toBe("");
            expect(world.compute.vm(`${prefix("staging")}${u}`)?.state).toBe("running");
            expect(world.compute.gateways.has(`${prefix("staging")}${u}`)).toBe(true);
        }
        expect(world.compute.vms.size).toBe(4);
    });

    it("3. destroying staging with purgeAccountsOnTeardown deletes staging's VMs, gateways and Forge logins and nothing of dev's", async () => {
        const deletesBefore = world.compute.requests.length;
        const forgeBefore = world.forge.requests.length;
        const stagingApps = world.forge.oauthApps.filter((a) => a.name.includes(ownerMarker(id("staging")))).map((a) => a.id);
        expect(stagingApps).toHaveLength(USERS.length);
        const r = await world.runStack(staging, "destroy", { purgeAccountsOnTeardown: "true" });
        expect(r.errors).toEqual([]);
        const deleted = world.compute.requests.slice(deletesBefore).filter((q) => q.method.startsWith("delete_"));
        expect(deleted.map((q) => q.method).sort()).toEqual(["delete_vm", "delete_vm", "delete_webgateway", "delete_webgateway"]);
        expect(deleted.filter((q) => q.method === "delete_webgateway").map((q) => q.params.name).sort()).toEqual(USERS.map((u) => `${prefix("staging")}${u}`));
        // Only staging's own logins go: the accounts are dev's (staging adopted them read-only).
        expect(world.forge.requests.slice(forgeBefore).filter((q) => q.method === "DELETE").map((q) => q.path).sort()).toEqual(stagingApps.map((i) => `/user/applications/oauth2/${i}`).sort());
        for (const u of USERS) expect(world.forge.user(u)).toBeDefined();
        expect(world.forge.oauthApps.map((a) => a.name).sort()).toEqual(USERS.map((u) => `Hero OS demo login for ${u} ${ownerMarker(id("dev"))}`).sort());
    });

    it("4. dev then changes nothing; its passwords still log in, its tokens still authenticate, its VMs and gateways are untouched", async () => {
        const r = await world.runStack(dev, "up", { purgeAccountsOnTeardown: "false" });
        expect(r.errors).toEqual([]);
        expect(changes(r)).toEqual([]);
        for (const u of USERS) {
            expect(world.forge.user(u)!.password).toBe(before.passwords[u]);
            expect(world.forge.tokens.some((t) => t.sha1 === before.tokens[u] && t.userId === world.forge.user(u)!.id)).toBe(true);
            expect(world.compute.vm(`${prefix("dev")}${u}`)?.id).toBe(before.vms[u]);
        }
        expect([...world.compute.gateways.keys()].sort()).toEqual(before.gateways.sort());
    });

    it("5. a look-alike VM (dev's name for a new user, another key) is refused and left alone", async () => {
        // Another client deploys it, in the dialect the fake speaks (the tracker's: keys first, by VM name).
        const name = `${prefix("dev")}carol`;
        await world.compute.invoke("inject_ssh_keys", { name, ssh_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBWDF9l2irR9lZK9SzoXUYhyRqTBBNb5mrK6r7AHCk+Z someone-else"] });
        await world.compute.invoke("deploy_vm", { name, flist: "ubuntu-24.04-latest", cpu: 4, memory: 8, disk: 50, rootfs: 16, publicip: false });
        const lookAlike = { ...world.compute.vm(`${prefix("dev")}carol`)! };
        world.writeUsers(["alice", "bob", "carol"].map((username) => ({ username })));
        const r = await world.runStack(dev, "up", { purgeAccountsOnTeardown: "false" });
        expect(r.errors.join("\n")).toMatch(new RegExp(`carol-vm: .*a VM named ${prefix("dev")}carol \\(id ${lookAlike.id}, state \\w+\\) already exists .* nothing proves it belongs to this deployment`));
        expect(world.compute.vm(`${prefix("dev")}carol`)).toMatchObject({ id: lookAlike.id, ssh_keys: lookAlike.ssh_keys });
        world.writeUsers(USERS.map((username) => ({ username })));
        const back = await world.runStack(dev, "up", { purgeAccountsOnTeardown: "false" });
        expect(back.errors).toEqual([]);
        expect(world.compute.vm(`${prefix("dev")}carol`)?.id).toBe(lookAlike.id);
    });

    it("6. alice moves to a new gateway name and bob takes her old one, in one update: both end live, each on their own VM", async () => {
        world.writeUsers([{ username: "alice", gatewayName: "alicedemo" }, { username: "bob", gatewayName: "bobold" }]);
        expect((await world.runStack(dev, "up", { purgeAccountsOnTeardown: "false" })).errors).toEqual([]);
        world.writeUsers([{ username: "alice", gatewayName: "alicenew" }, { username: "bob", gatewayName: "alicedemo" }]);
        const r = await world.runStack(dev, "up", { purgeAccountsOnTeardown: "false", gatewayReleaseWaitSeconds: "120" });
        expect(r.errors).toEqual([]);
        const vm = (u: string) => world.compute.vm(`${prefix("dev")}${u}`)!;
        // The tracker's dialect records no VM id on a gateway: each points at its own VM's front door.
        const door = (u: string) => expect.stringContaining(`${vm(u).mycelium_ip}:`);
        expect(world.compute.gateways.get("alicenew")).toMatchObject({ backend: door("alice") });
        expect(world.compute.gateways.get("alicedemo")).toMatchObject({ backend: door("bob") });
        expect(world.compute.gateways.has("bobold")).toBe(false);
        expect(r.outputs.environments.bob.gatewayFqdn).toMatch(/^alicedemo\./);
        expect(r.outputs.environments.alice.gatewayFqdn).toMatch(/^alicenew\./);
        expect(r.ops.filter((o) => o.name.endsWith("-gateway")).map((o) => o.op)).toEqual(["update", "update"]);
    });

    it("7. the audit finds the orphans of a create whose state write was lost, --delete-orphans --yes removes them, and a second audit finds none", async () => {
        // The crash: alice's VM and gateway exist on Hero Compute, but their records (and so
        // those of every step after them) never reached state: removed through the CLI.
        const ws = world.workspace;
        const vmUrn = Object.keys(loadState(world.stateFile("dev")).resources).find((u) => u.endsWith("::alice-vm"))!;
        await ws.must(["state", "delete", vmUrn, "--target-dependents", "--yes", "--stack", "dev"]);
        expect(Object.keys(loadState(world.stateFile("dev")).resources).filter((u) => /::alice-(vm|gateway|install)$/.test(u))).toEqual([]);
        const aliceVm = world.compute.vm(`${prefix("dev")}alice`)!.id;

        // npm run audit's entry point, in the stack's project directory, calling the real CLI.
        const audit = async (...args: string[]) => {
            const out: string[] = [];
            const err: string[] = [];
            const io = { projectDir: ws.projectDir, pulumi: spawnPulumi(ws.projectDir, ws.env()), out: (l: string) => out.push(l), err: (l: string) => err.push(l) };
            const code = await runAudit(["--stack", "dev", ...args], io, { confirm: null });
            return { code, out: out.join("\n"), err: err.join("\n") };
        };

        const first = await audit();
        console.log(`audit output (closing note):\n${first.out}`);
        expect(first.code).toBe(1);
        expect(first.out).toContain(`VMs:      1 in state, 1 orphaned, 0 gone, 1 look-alike`);
        expect(first.out).toContain(`gateways: 1 in state, 1 orphaned, 0 gone, 0 look-alike`);
        expect(first.out).toMatch(new RegExp(`vm +${prefix("dev")}alice \\(id ${aliceVm}\\): running, carries the deployer key of alice`));
        expect(first.out).toMatch(/gateway alicenew: points at http:\/\/\S+, but no state record/);
        expect(first.out).toMatch(new RegExp(`vm +${prefix("dev")}carol .*our name pattern .* not ours, left alone`));
        expect(first.out).toMatch(/accounts: 2 in state, 1 orphaned, 0 gone/); // carol's account, kept by the stack's teardown policy
        // alice's Forge login depends on her gateway: its record went with it, the application stayed.
        expect(first.out).toContain("logins:   1 in state, 1 orphaned, 0 gone");
        expect(first.out).toMatch(/login +Hero OS demo login for alice \[managed by hero-os-grid-deployer, stack \S+ [0-9a-f]{8}\] \(id \d+\): carries this stack's marker, but no state record/);
        expect(first.out).not.toContain(world.forge.adminToken);
        const json = JSON.parse((await audit("--json")).out);
        expect(json.counts.vms).toEqual({ inState: 1, orphans: 1, gone: 0, lookAlikes: 1 });

        expect((await audit("--delete-orphans")).err).toMatch(/refusing to delete without --yes/);
        const del = await audit("--delete-orphans", "--yes");
        expect(del.err).toContain(`audit: deleted vm ${prefix("dev")}alice (id ${aliceVm})`);
        expect(del.err).toContain("audit: deleted gateway alicenew");
        expect(del.err).toMatch(/audit: deleted login Hero OS demo login for alice .* \(id \d+\)/);
        expect(world.forge.oauthApps.map((a) => a.name.split(" [")[0])).toEqual(["Hero OS demo login for bob"]);
        expect(del.err).toMatch(/keeping 1 orphaned account\(s\) \(carol\): purgeAccountsOnTeardown is not true/);
        expect(world.compute.vm(`${prefix("dev")}alice`)).toBeUndefined();
        expect(world.compute.vm(`${prefix("dev")}carol`)).toBeDefined(); // the look-alike is never touched
        expect(world.compute.vm(`${prefix("dev")}bob`)).toBeDefined();

        const second = JSON.parse((await audit("--json")).out);
        expect(second.counts.vms.orphans + second.counts.gateways.orphans + second.counts.logins.orphans).toBe(0);
        expect(second.counts.vms.lookAlikes).toBe(1);
    });
});
