/**
 * Whole runs of the program under the real `pulumi` CLI against a real Forgejo
 * (test/support/real-forgejo.ts): the fake Hero Compute and fake VMs of the
 * other rehearsals, but every Forge call goes to Forgejo itself. The runs build
 * on each other: deploy two users, prove that each front door's Forge login
 * lets its own user in with the password the stack hands out, rotate one login
 * with --replace, tear one user down, destroy the stack. What a real Forgejo
 * holds is read through its API, never from our fakes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as fs from "fs";
import { PROXY_OAUTH_CALLBACK_PATH } from "../components/hero-cli";
import { listApps } from "../providers/forge/oauth-app";
import { ownerMarker, stackIdentity } from "../providers/ownership";
import { exportState, loadState } from "./engine/state";
import { changes, type RunResult } from "./rehearsal/runner";
import { STACK, World } from "./rehearsal/world";
import { forgeLoginFlow, loginOfToken } from "./support/forge-login-flow";
import { realForgejoBinary, startRealForgejo, type RealForgejo } from "./support/real-forgejo";

const binary = realForgejoBinary("test/rehearsal-forgejo.test.ts");
const IDENTITY = stackIdentity("organization", "hero-os-grid-deployer", STACK);
let forge: RealForgejo;
let world: World;

/** The stack's Forge logins on the real Forgejo, by user. */
async function logins(): Promise<Map<string, { id: number; name: string; client_id: string; redirect_uris?: string[] }>> {
    const apps = await listApps({ baseUrl: forge.url, token: forge.adminToken });
    const ours = apps.filter((a) => a.name.endsWith(ownerMarker(IDENTITY)));
    return new Map(ours.map((a) => [/^Hero OS demo login for (\S+) /.exec(a.name)![1], a]));
}

/** What the state holds for a user's login, secrets shown (through the CLI). */
async function loginState(user: string): Promise<{ urn: string; clientId: string; clientSecret: string; redirectUri: string }> {
    const r = Object.values((await exportState(world.workspace, STACK)).resources).find((x) => x.name === `${user}-forge-login`)!;
    return { urn: r.urn, ...(r.outputs as { clientId: string; clientSecret: string; redirectUri: string }) };
}

const ofUser = (r: RunResult, user: string) => changes(r).filter((o) => o.name === user || o.name.startsWith(`${user}-`));

describe.skipIf(!binary).sequential("whole runs on a real Forgejo", { timeout: 300_000 }, () => {
    beforeAll(async () => {
        forge = await startRealForgejo(binary!);
        world = await World.start(["alice", "bob"], { realForge: { url: forge.url, adminToken: forge.adminToken } });
    }, 180_000);
    afterAll(async () => {
        await world?.stop();
        await forge?.stop();
    });

    it("1. up creates each user's account and Forge login on Forgejo; the handed-out password and the login's client let the user in as themselves", async () => {
        world.writeUsers([{ username: "alice" }, { username: "bob" }]);
        const r = await world.run("up");
        expect(r.errors).toEqual([]);
        const apps = await logins();
        expect([...apps.keys()].sort()).toEqual(["alice", "bob"]);
        for (const u of ["alice", "bob"]) {
            expect((await forge.api("GET", `/users/${u}`)).status).toBe(200);
            const env = r.outputs.environments[u];
            const gatewayUrl = `https://${env.gatewayFqdn}`;
            expect(apps.get(u)).toMatchObject({ client_id: env.oauthClientId, redirect_uris: [`${gatewayUrl}${PROXY_OAUTH_CALLBACK_PATH}`] });
            const login = await loginState(u);
            const flow = await forgeLoginFlow(forge.url, u, r.outputs.credentials[u].password, login);
            expect(flow.tokenStatus).toBe(200);
            expect(await loginOfToken(forge.url, flow.token.access_token!)).toBe(u);
            // The client secret is ciphertext in the state file as it lies on disk.
            expect(fs.readFileSync(world.stateFile(), "utf8")).not.toContain(login.clientSecret);
        }
        // Bob's password opens nothing with alice's client id and a wrong password: the Forge itself refuses.
        const alice = await loginState("alice");
        await expect(forgeLoginFlow(forge.url, "bob", "not-bobs-password", alice)).rejects.toThrow(/login as bob answered 200/);
    });

    it("2. a second up changes nothing on Forgejo", async () => {
        const before = await logins();
        const r = await world.run("up");
        expect(r.errors).toEqual([]);
        expect(changes(r)).toEqual([]);
        expect(await logins()).toEqual(before);
    });

    it("3. --replace rotates alice's login: a new client, the old one gone from Forgejo, bob's untouched", async () => {
        const before = await logins();
        const old = await loginState("alice");
        const r = await world.run("up", {}, ["--replace", old.urn]);
        expect(r.errors).toEqual([]);
        const after = await logins();
        expect(after.get("alice")!.id).not.toBe(before.get("alice")!.id);
        expect(after.get("alice")!.client_id).toBe(r.outputs.environments.alice.oauthClientId);
        expect(after.get("bob")).toEqual(before.get("bob"));
        expect(ofUser(r, "bob")).toEqual([]);
        const fresh = await loginState("alice");
        expect((await forgeLoginFlow(forge.url, "alice", r.outputs.credentials.alice.password, fresh)).tokenStatus).toBe(200);
        // The old application is deleted: its client id no longer authorizes anything.
        expect((await forgeLoginFlow(forge.url, "alice", r.outputs.credentials.alice.password, old)).tokenStatus).not.toBe(200);
    });

    it("3b. --replace on bob's VM deletes it first and deploys a new one: one VM for bob, the new one, bootstrapped again", async () => {
        const vms = () => [...world.compute.vms.values()].filter((v) => v.name === "rhbob");
        const [old] = vms();
        const urn = Object.values(loadState(world.stateFile()).resources).find((x) => x.name === "bob-vm")!.urn;
        const r = await world.run("up", {}, ["--replace", urn]);
        expect(r.errors).toEqual([]);
        expect(vms()).toHaveLength(1);
        expect(vms()[0].id).not.toBe(old.id);
        expect(r.outputs.environments.bob.vmId).toBe(vms()[0].id);
        // Deleted first: the engine's order for a delete-before-replace.
        expect(r.ops.filter((o) => o.name === "bob-vm").map((o) => o.op)).toEqual(["delete-replaced", "replace", "create-replacement"]);
        expect(r.commands.some((c) => c.urn.endsWith("::bob-health"))).toBe(true);
    });

    it("4. removing bob from the users file deletes his login and (purgeAccountsOnTeardown) his account, and nothing of alice's", async () => {
        const before = await logins();
        world.writeUsers([{ username: "alice" }]);
        const r = await world.run("up");
        expect(r.errors).toEqual([]);
        expect([...(await logins()).keys()]).toEqual(["alice"]);
        expect((await logins()).get("alice")).toEqual(before.get("alice"));
        expect((await forge.api("GET", "/users/bob")).status).toBe(404);
        expect(ofUser(r, "alice")).toEqual([]);
    });

    it("5. destroy leaves none of the stack's logins or accounts on Forgejo", async () => {
        const r = await world.run("destroy");
        expect(r.errors).toEqual([]);
        expect((await logins()).size).toBe(0);
        expect((await forge.api("GET", "/users/alice")).status).toBe(404);
        expect(Object.keys(loadState(world.stateFile()).resources)).toEqual([]);
    });
});
