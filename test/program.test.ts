/**
 * The whole program (index.ts) under Pulumi's mocks, run in a child process
 * under ts-node CommonJS as `pulumi up` runs it.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { BASE_CONFIG, runProgram, type ProgramRun } from "./support/program";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "program-test-"));
function usersFile(name: string, text: string): string {
    const file = path.join(tmp, name);
    fs.writeFileSync(file, text);
    return file;
}

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

describe("the program under mocks, with a users file of three live users and one expired", () => {
    let run: ProgramRun;
    beforeAll(async () => {
        run = await runProgram({ ...BASE_CONFIG, usersFile: usersFile("three.yaml", THREE_USERS) });
        expect(run.error).toBeUndefined();
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

    it("names every child <username>-<role> and parents it to that user's component", () => {
        const children = run.registrations.filter((r) => r.type !== "hero:demo:Environment");
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
        const key = run.registrations.find((r) => r.name === "alice-ssh-key")!;
        expect(key.type).toBe("tls:index/privateKey:PrivateKey");
        expect(key.object).toEqual({ algorithm: "ED25519" });
        expect(key.additionalSecretOutputs).toContain("privateKeyOpenssh");
        const password = run.registrations.find((r) => r.name === "alice-password")!;
        expect(password.additionalSecretOutputs).toContain("result");
        expect(Object.keys(run.outputs.credentials)).toEqual(["secret"]);
        expect(run.outputs.credentials.secret.alice).toMatchObject({ password: "password-of-alice-password", sshPrivateKey: "PRIVATE KEY OF alice-ssh-key" });
    });

    it("exports environments in plain text, with no password or key in them", () => {
        expect(run.outputs.environments.secret).toBeUndefined();
        const text = JSON.stringify(run.outputs.environments);
        expect(text).not.toContain("password-of");
        expect(text).not.toContain("PRIVATE KEY");
        expect(run.outputs.environments.alice).toMatchObject({
            forgeLogin: "alice",
            forgeUrl: "https://forge.example.org",
            services: ["proc", "router", "proxy", "cockpit", "embedder", "books", "slides", "agents"],
        });
        expect(run.outputs.environments.carol.expires).toBe("2030-01-01");
    });

    it("logs one summary line per user for the preview", () => {
        expect(run.log).toContain("alice: forge account, vm 8 GB 4 cpu 50 GB disk, gateway devalice, services [slides, agents]");
        expect(run.log).toContain("Bob: forge account, vm 8 GB 4 cpu 50 GB disk, gateway devbob, services []");
    });
});

describe("the program under mocks, with a bad users file", () => {
    it("registers nothing and reports every problem with file and line", async () => {
        const bad = usersFile("bad.yaml", "users:\n  - username: alice\n    email: nope\n    fullName: A\n    services: [office]\n");
        const run = await runProgram({ ...BASE_CONFIG, usersFile: bad });
        expect(run.registrations).toEqual([]);
        expect(run.error).toContain(`${bad} has 2 problems; nothing was deployed:`);
        expect(run.error).toContain(`${bad}:3:12: user "alice": email "nope" is not an email address`);
        expect(run.error).toContain(`${bad}:5:16: user "alice": services[0] "office" is not offered`);
    });

    it("names a missing users file as the config gave it", async () => {
        const run = await runProgram({ ...BASE_CONFIG, usersFile: "users/missing.yaml" });
        expect(run.registrations).toEqual([]);
        expect(run.error).toContain("users/missing.yaml: cannot read the users file: no such file");
    });
});
