/**
 * The whole program (index.ts) under Pulumi's mocks, run in a child process
 * under ts-node CommonJS as `pulumi up` runs it.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeCompute } from "./fakes/compute";
import { BASE_CONFIG, runProgram, type ProgramRun } from "./support/program";
import { defaultNamePrefix } from "../components/naming";
import { buildEach } from "../components/program";
import { stackIdentity } from "../providers/ownership";
import { MOCK_HOST_KEY } from "./support/fixtures";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "program-test-"));
function usersFile(name: string, text: string): string {
    const file = path.join(tmp, name);
    fs.writeFileSync(file, text);
    return file;
}

/** Sentinels: stack secrets that must never reach a resource. */
const SECRETS = { forgeToken: "forge-admin-token-5e1f", computeToken: "compute-token-9c2d" };

const THREE_USERS = `users:
  - username: alice
    email: alice@example.org
    fullName: Alice
    services: [slides, agents]
  - username: Bob
    email: bob@example.org
    fullName: Bob
  - username: carol
    email: carol@example.org
    fullName: Carol
    expires: "2030-01-01"
  - username: dave
    email: dave@example.org
    fullName: Dave (expired)
    expires: "2020-01-01"
`;

let compute: FakeCompute;
beforeAll(async () => {
    compute = await FakeCompute.start();
});
afterAll(async () => {
    await compute?.stop();
});

describe("the program under mocks (an update, not a preview), with a users file of three live users and one expired", () => {
    let run: ProgramRun;
    beforeAll(async () => {
        run = await runProgram({ ...BASE_CONFIG, ...SECRETS, computeUrl: compute.httpUrl, usersFile: usersFile("three.yaml", THREE_USERS) });
        expect(run.error).toBeUndefined();
    });
    const find = (name: string) => {
        const r = run.registrations.find((x) => x.name === name);
        expect(r, `${name} is registered`).toBeDefined();
        return r!;
    };

    it("builds each user's account, VM, gateway, Forge login, the host-key pin, the scripts copy and the seven bootstrap steps, in order", () => {
        const roles = ["ssh-key", "password", "forge-account", "vm", "gateway", "forge-login", "session-secret", "host-key", "host-key-check", "scripts", "ready", "install", "services", "front-door", "cockpit-settings", "books", "health"];
        for (const user of ["alice", "bob", "carol"]) {
            const children = run.registrations.filter((r) => r.parent.endsWith(`::${user}`)).map((r) => r.name);
            expect(children.sort()).toEqual(roles.map((role) => `${user}-${role}`).sort());
        }
        const urn = (name: string) => find(name).urn;
        expect(find("alice-forge-account").type).toBe("pulumi-nodejs:dynamic/hero:ForgeAccount");
        expect(find("alice-vm").type).toBe("pulumi-nodejs:dynamic/hero:Vm");
        expect(find("alice-gateway").type).toBe("pulumi-nodejs:dynamic/hero:Gateway");
        expect(find("alice-vm").dependencies).toContain(urn("alice-ssh-key"));
        expect(find("alice-gateway").dependencies).toContain(urn("alice-vm"));
        expect(find("alice-forge-account").dependencies).toContain(urn("alice-password"));
        // The login's redirect URI is on the user's gateway; its client secret is a secret output.
        expect(find("alice-forge-login").type).toBe("pulumi-nodejs:dynamic/hero:ForgeLogin");
        expect(find("alice-forge-login").dependencies).toContain(urn("alice-gateway"));
        expect(find("alice-forge-login").object).toMatchObject({ username: "alice", gatewayUrl: "https://devalice.gent02.grid.tf" });
        expect(find("alice-forge-login").additionalSecretOutputs).toContain("clientSecret");
        expect(find("alice-session-secret").type).toBe("random:index/randomPassword:RandomPassword");
        expect(find("alice-scripts").type).toBe("command:remote:CopyToRemote");
        expect(find("alice-scripts").deletedWith).toBe(urn("alice-vm"));
        expect(find("alice-scripts").dependencies).toContain(urn("alice-host-key-check"));
        const chain = ["vm", "host-key", "host-key-check", "scripts", "ready", "install", "services", "front-door", "cockpit-settings", "books", "health"];
        chain.slice(1).forEach((step, i) => {
            const r = find(`alice-${step}`);
            expect(r.type).toBe(step === "scripts" ? "command:remote:CopyToRemote" : "command:remote:Command");
            expect(r.deletedWith, `alice-${step} goes with the VM`).toBe(urn("alice-vm"));
            expect(r.dependencies).toContain(urn(`alice-${chain[i]}`));
        });
    });

    it("regression: every dynamic resource deletes before it is replaced, so `up --replace` never adopts the object it replaces and then deletes it (a replaced Forge login was left with none)", () => {
        const dynamic = run.registrations.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/"));
        expect(new Set(dynamic.map((r) => r.type.split(":").pop()))).toEqual(new Set(["ForgeAccount", "ForgeLogin", "Vm", "Gateway", "FeedbackHub"]));
        expect(dynamic.filter((r) => !r.deleteBeforeReplace).map((r) => r.name)).toEqual([]);
    });

    it("sizes the VM from the users file and gives it the deployer's key, and points the gateway at the front door", () => {
        expect(find("alice-vm").object).toMatchObject({ name: "devalice", username: "alice", memoryMb: 8192, cpu: 4, diskGb: 50, sshKeys: ["ssh-ed25519 AAAAalice-ssh-key"] });
        expect(find("alice-gateway").object).toMatchObject({ name: "devalice", backend: "http://[5a3:1b2::7]:9997", vmId: "vm-devalice" });
    });

    it("never puts the Forge admin token or the compute token into any resource", () => {
        const text = JSON.stringify(run.registrations);
        expect(text).not.toContain(SECRETS.forgeToken);
        expect(text).not.toContain(SECRETS.computeToken);
    });

    it("checked Hero Compute's contract with rpc.discover before registering anything", () => {
        expect(compute.requests.map((r: { method: string }) => r.method)).toContain("rpc.discover");
    });

    const components = () => run.registrations.filter((r) => r.type === "hero:demo:Environment");

    it("registers one DemoEnvironment per live user, named by the lowercased username", () => {
        expect(components().map((c) => c.name).sort()).toEqual(["alice", "bob", "carol"]);
    });

    it("leaves the expired user out entirely, and says so in the log", () => {
        expect(run.registrations.filter((r) => r.name.startsWith("dave"))).toEqual([]);
        expect(run.log).toContain("dave: expired on 2020-01-01; not deployed, so this update tears the environment down");
        expect(Object.keys(run.outputs.environments)).not.toContain("dave");
    });

    it("declares the feedback hub once per stack, and every user's account waits for it", () => {
        const hubs = run.registrations.filter((r) => r.type === "pulumi-nodejs:dynamic/hero:FeedbackHub");
        expect(hubs.map((h) => [h.name, h.parent, h.object.repo])).toEqual([["feedback-hub", "", "lhumina_public/feedback"]]);
        for (const user of ["alice", "bob", "carol"]) {
            expect(find(`${user}-forge-account`).dependencies).toContain(hubs[0].urn);
        }
        expect(run.outputs.feedbackHub.url).toBe("https://forge.example.org/lhumina_public/feedback");
    });

    it("names every child <username>-<role> and parents it to that user's component", () => {
        const children = run.registrations.filter((r) => r.type !== "hero:demo:Environment" && r.name !== "feedback-hub");
        expect(children.length).toBeGreaterThanOrEqual(6);
        for (const child of children) {
            const owner = components().find((c) => c.urn === child.parent);
            expect(owner, `${child.name} has a DemoEnvironment parent`).toBeDefined();
            expect(child.name.startsWith(`${owner!.name}-`), `${child.name} starts with ${owner!.name}-`).toBe(true);
        }
        expect(children.map((c) => c.name)).toEqual(expect.arrayContaining(["alice-ssh-key", "alice-password", "bob-ssh-key", "carol-password"]));
    });

    it("registers no URN twice (mocks would not catch it)", () => {
        const urns = run.registrations.map((r) => r.urn);
        expect(new Set(urns).size).toBe(urns.length);
    });

    it("keeps the password and private key secret, and exports credentials as a secret", () => {
        const account = find("alice-forge-account");
        expect(account.additionalSecretOutputs).toEqual(expect.arrayContaining(["password", "token"]));
        expect(account.object.password).toEqual({ secret: "password-of-alice-password" });
        expect(run.outputs.credentials.secret.alice.forgeToken).toBe("token-of-alice-forge-account");
        const key = run.registrations.find((r) => r.name === "alice-ssh-key")!;
        expect(key.type).toBe("tls:index/privateKey:PrivateKey");
        expect(key.object).toEqual({ algorithm: "ED25519" });
        expect(key.additionalSecretOutputs).toContain("privateKeyOpenssh");
        const password = run.registrations.find((r) => r.name === "alice-password")!;
        expect(password.additionalSecretOutputs).toContain("result");
        expect(Object.keys(run.outputs.credentials)).toEqual(["secret"]);
        expect(run.outputs.credentials.secret.alice).toMatchObject({ password: "password-of-alice-password", sshPrivateKey: "PRIVATE KEY OF alice-ssh-key" });
    });

    it("every SSH resource logs in with the key's PKCS#8 form, as a secret; the hand-out keeps the OpenSSH form", () => {
        const ssh = run.registrations.filter((r) => r.name.startsWith("alice-") && r.type.startsWith("command:remote:"));
        expect(ssh.map((r) => r.name)).toHaveLength(10);
        for (const r of ssh) {
            // The SDK marks the whole connection secret, since the key in it is.
            expect(r.object.connection).toEqual({ secret: expect.objectContaining({ privateKey: "PKCS8 PRIVATE KEY OF alice-ssh-key" }) });
        }
        expect(run.outputs.credentials.secret.alice.sshPrivateKey).toBe("PRIVATE KEY OF alice-ssh-key");
    });

    it("exports environments in plain text, with no password or key in them", () => {
        expect(run.outputs.environments.secret).toBeUndefined();
        const text = JSON.stringify(run.outputs.environments);
        expect(text).not.toContain("password-of");
        expect(text).not.toContain("PRIVATE KEY");
        expect(text).not.toContain("token-of");
        expect(run.outputs.environments.alice).toMatchObject({
            cockpitUrl: "https://devalice.gent02.grid.tf/hero_cockpit/web/",
            gatewayFqdn: "devalice.gent02.grid.tf",
            vmId: "vm-devalice",
            node: 7,
            myceliumIp: "5a3:1b2::7",
            forgeLogin: "alice",
            forgeUrl: "https://forge.example.org",
            services: ["proc", "router", "proxy", "cockpit", "embedder", "books", "slides", "agents"],
            sshHostKey: MOCK_HOST_KEY,
            bootstrap: "ran alice-health",
        });
        expect(run.outputs.environments.carol.expires).toBe("2030-01-01");
    });

    it("logs one summary line per user for the preview", () => {
        expect(run.log).toContain("alice: forge account, vm 8 GB 4 cpu 50 GB disk, gateway devalice, services [slides, agents]");
        expect(run.log).toContain("Bob: forge account, vm 8 GB 4 cpu 50 GB disk, gateway devbob, services []");
    });
});

describe("the program under mocks: what stops it before any resource", () => {
    it("a Hero Compute without a method the providers use stops the update, naming the method", async () => {
        const lacking = await FakeCompute.start({
            discover: (doc: any) => ({ ...doc, methods: doc.methods.filter((m: { name: string }) => m.name !== "ComputeService.delete_vm") }),
        });
        try {
            const run = await runProgram({ ...BASE_CONFIG, computeUrl: lacking.httpUrl, usersFile: usersFile("one.yaml", "users:\n  - { username: alice, email: a@example.org, fullName: A }\n") });
            expect(run.registrations).toEqual([]);
            expect(run.error).toContain("does not offer what this deployer needs");
            expect(run.error).toContain("delete_vm");
        } finally {
            await lacking.stop();
        }
    });

    it("a preview makes no call to Hero Compute at all", async () => {
        const before = compute.requests.length;
        const run = await runProgram({ ...BASE_CONFIG, computeUrl: compute.httpUrl, usersFile: usersFile("three.yaml", THREE_USERS) }, { preview: true });
        expect(run.error).toBeUndefined();
        expect(run.registrations.some((r) => r.name === "alice-vm")).toBe(true);
        expect(compute.requests.length).toBe(before);
    });

    it("registers nothing and reports every problem with file and line", async () => {
        const bad = usersFile("bad.yaml", "users:\n  - username: alice\n    email: nope\n    fullName: A\n    services: [office]\n");
        const run = await runProgram({ ...BASE_CONFIG, usersFile: bad });
        expect(run.registrations).toEqual([]);
        expect(run.error).toContain(`${bad} has 2 problems; nothing was deployed:`);
        expect(run.error).toContain(`${bad}:3:12: user "alice": email: "nope" is not an email address (name@example.org)`);
        expect(run.error).toContain(`${bad}:5:16: user "alice": services[0]: "office" is not offered`);
    });

    it("names a missing users file as the config gave it", async () => {
        const run = await runProgram({ ...BASE_CONFIG, usersFile: "users/missing.yaml" });
        expect(run.registrations).toEqual([]);
        expect(run.error).toContain("users/missing.yaml:1:1: cannot read the users file: no such file");
    });

    // 101 users: one alias more than yaml's default bound, and one user more than the advice.
    it("regression: 101 users sharing one anchor (vm: *big) load, and the run warns above 100 users per stack", { timeout: 240_000 }, async () => {
        const lines = ["x-sizes:", "  big: &big { memoryGb: 16 }", "users:"];
        for (let i = 0; i < 101; i++) lines.push(`  - { username: u${i}, email: u${i}@example.org, fullName: U, vm: *big }`);
        const run = await runProgram({ ...BASE_CONFIG, usersFile: usersFile("many.yaml", lines.join("\n") + "\n") }, { preview: true });
        expect(run.error).toBeUndefined();
        expect(run.registrations.filter((r) => r.type === "hero:demo:Environment")).toHaveLength(101);
        expect(run.registrations.find((r) => r.name === "u100-vm")!.object).toMatchObject({ memoryMb: 16384 });
        expect(run.log).toContain("101 users to deploy in one stack; above 100 a stack gets slow");
    });
});

describe("the program under mocks: an update that would remove every environment", () => {
    const deployed = { environments: { alice: {}, bob: {}, carol: {} } };

    it("users: [] warns how many deployed environments go, and who", async () => {
        const file = usersFile("none.yaml", "users: []\n");
        const run = await runProgram({ ...BASE_CONFIG, usersFile: file }, { preview: true, previousOutputs: deployed });
        expect(run.error).toBeUndefined();
        expect(run.log).toContain(
            `${file} lists no user: this update removes every deployed environment, all 3 of them (alice, bob, carol), VM data included. If that is not intended, cancel and restore ${file}.`,
        );
    });

    it("every user expired says so, with the count of expired users", async () => {
        const file = usersFile("expired.yaml", 'users:\n  - { username: alice, email: a@example.org, fullName: A, expires: "2020-01-01" }\n');
        const run = await runProgram({ ...BASE_CONFIG, usersFile: file }, { previousOutputs: deployed });
        expect(run.error).toBeUndefined();
        expect(run.log).toContain(`every user in ${file} has expired (1): this update removes every deployed environment, all 3 of them (alice, bob, carol)`);
    });

    it("a stack with nothing deployed yet gets no alarm", async () => {
        const file = usersFile("none.yaml", "users: []\n");
        const run = await runProgram({ ...BASE_CONFIG, usersFile: file }, { preview: true });
        expect(run.log).toContain(`${file} lists no user: nothing is deployed, and nothing will be.`);
        expect(run.log).not.toContain("removes every");
    });

    it("with users to deploy and namePrefix set, the stack's own outputs are not read", async () => {
        const run = await runProgram({ ...BASE_CONFIG, usersFile: usersFile("three.yaml", THREE_USERS) }, { preview: true, previousOutputs: deployed });
        expect(run.registrations.some((r) => r.type === "pulumi:pulumi:StackReference")).toBe(false);
    });
});

describe("the program under mocks: the default grid-name prefix", () => {
    const { namePrefix: _set, ...UNSET } = BASE_CONFIG;
    const devPrefix = defaultNamePrefix("dev", stackIdentity("organization", "hero-os-grid-deployer", "dev").id);

    it("is 6 letters or digits of the stack name and 4 hex digits of its identity, shown in the `stack` output", async () => {
        const run = await runProgram({ ...UNSET, usersFile: usersFile("three.yaml", THREE_USERS) }, { preview: true });
        expect(run.error).toBeUndefined();
        expect(devPrefix).toMatch(/^dev[0-9a-f]{4}$/);
        expect(run.outputs.stack).toEqual({ stack: "organization/hero-os-grid-deployer/dev", id: expect.stringMatching(/^[0-9a-f]{8}$/), namePrefix: devPrefix });
        expect(run.registrations.find((r) => r.name === "alice-vm")!.object).toMatchObject({ name: `${devPrefix}alice` });
    });

    it("regression: stacks whose names start alike get different prefixes (students-2025a, students-2025b)", () => {
        const p = (stack: string) => defaultNamePrefix(stack, stackIdentity("organization", "hero-os-grid-deployer", stack).id);
        expect(p("students-2025a")).not.toBe(p("students-2025b"));
        expect(p("production")).not.toBe(p("production-eu"));
        expect(p("students-2025a")).toMatch(/^studen[0-9a-f]{4}$/);
    });

    it("regression: a stack deployed with the old prefix is warned, in the preview, that its VMs would be replaced, and told how to keep them", async () => {
        const deployed = { environments: { alice: { gatewayFqdn: "devalice.gent02.grid.tf" }, bob: { gatewayFqdn: "devbob.gent02.grid.tf" }, carol: { gatewayFqdn: "carol-demo.gent02.grid.tf" } } };
        const run = await runProgram({ ...UNSET, usersFile: usersFile("three.yaml", THREE_USERS) }, { preview: true, previousOutputs: deployed });
        expect(run.log).toContain(
            `grid names change prefix from "dev" to "${devPrefix}" (the default now adds a hash of the stack identity): this update replaces all 3 deployed VMs and their gateways, VM data included. To keep the names they have, cancel and run \`pulumi config set namePrefix dev\`.`,
        );
    });

    it("no warning when the last update used the same prefix, nor when namePrefix is set", async () => {
        const same = await runProgram({ ...UNSET, usersFile: usersFile("three.yaml", THREE_USERS) }, { preview: true, previousOutputs: { stack: { namePrefix: devPrefix }, environments: { alice: {} } } });
        expect(same.log).not.toContain("grid names change prefix");
        const set = await runProgram({ ...BASE_CONFIG, usersFile: usersFile("three.yaml", THREE_USERS) }, { preview: true, previousOutputs: { environments: { alice: { gatewayFqdn: "xyzalice.g" } } } });
        expect(set.log).not.toContain("grid names change prefix");
    });
});

describe("buildEach: one user at a time, queued work drained in between", () => {
    it("builds in order and returns every result", async () => {
        expect(await buildEach(["a", "b", "c"], (u) => u.toUpperCase())).toEqual(["A", "B", "C"]);
        expect(await buildEach([], (u: string) => u)).toEqual([]);
    });

    it("regression: a user's queued work (promise chains, an immediate) finishes before the next user is built (all users' pending promises at once cost 1.44 GB at 300 users)", async () => {
        const events: string[] = [];
        await buildEach(["a", "b"], (u) => {
            events.push(`build ${u}`);
            Promise.resolve().then(() => Promise.resolve()).then(() => events.push(`chain ${u}`));
            setImmediate(() => events.push(`immediate ${u}`));
        });
        expect(events).toEqual(["build a", "chain a", "immediate a", "build b", "chain b", "immediate b"]);
    });
});
