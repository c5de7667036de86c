/**
 * The admin commands `teardown` and `handout`: argument handling, refusals,
 * the exact destroy command, the users-file reminder, and secrets kept out of
 * their output. Pulumi is replaced by a recorder here; the last block runs the
 * real entry points with a fake `pulumi` first on PATH.
 */
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CommandIo } from "../scripts/lib/command";
import type { PulumiRunner, RunMode } from "../scripts/lib/pulumi-cli";
import { handout, welcomeMessage } from "../scripts/handout";
import { teardown } from "../scripts/teardown";

const REPO = path.resolve(__dirname, "..");

const SECRETS = {
    alice: { password: "Pw-alice-7f3c9e1d2b", sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAliceKey\n-----END OPENSSH PRIVATE KEY-----\n", forgeToken: "0123456789abcdef0123456789abcdefalice" },
    zed: { password: "", sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAZedKey\n-----END OPENSSH PRIVATE KEY-----\n", forgeToken: "" },
};
/** Every secret text, and each line of the keys, none of which may appear unasked. */
const SECRET_TEXTS = Object.values(SECRETS).flatMap((c) => [c.password, c.forgeToken, ...c.sshPrivateKey.split("\n").filter((l) => l.length > 20)]).filter((s) => s !== "");

function env(username: string, expires?: string) {
    return {
        cockpitUrl: `https://dev${username}.gent02.grid.tf/hero_cockpit/web/`,
        forgeUrl: "https://forge.example.org",
        forgeLogin: username,
        vmId: "42",
        computeEndpoint: "http://127.0.0.1:9988/hero_compute/rpc/",
        node: 11,
        myceliumIp: "400:1234::1",
        gatewayFqdn: `dev${username}.gent02.grid.tf`,
        services: ["proc", "router", "proxy", "cockpit", "embedder", "books"],
        ...(expires ? { expires } : {}),
    };
}

/** Stack outputs as pulumi prints them: secret outputs are "[secret]" unless --show-secrets. */
const OUTPUTS = { environments: { alice: env("alice", "2027-03-31"), zed: env("zed") }, credentials: SECRETS };

function outputsJson(showSecrets: boolean): string {
    return JSON.stringify(showSecrets ? OUTPUTS : { ...OUTPUTS, credentials: "[secret]" });
}

/** A project directory: Pulumi.yaml, Pulumi.dev.yaml naming the users file, and that file (alice and bob). */
function makeProject(root: string): string {
    const dir = fs.mkdtempSync(path.join(root, "project-"));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: hero-os-grid-deployer\nruntime: nodejs\n");
    fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), "config:\n  hero-os-grid-deployer:usersFile: people/demo.yaml\n  hero-os-grid-deployer:namePrefix: dev\n");
    fs.mkdirSync(path.join(dir, "people"));
    fs.writeFileSync(
        path.join(dir, "people", "demo.yaml"),
        [
            "users:",
            "  - username: alice",
            "    email: alice@example.org",
            "    fullName: Alice Example",
            "  - username: bob",
            "    email: bob@example.org",
            "    fullName: Bob Example",
            "",
        ].join("\n"),
    );
    return dir;
}

interface Recorded {
    io: CommandIo;
    calls: { args: string[]; mode: RunMode }[];
    out: string[];
    err: string[];
    text(): string;
}

/** A recorder standing in for pulumi: answers the read-only calls, records everything, fails on the unexpected. */
function recorder(projectDir: string, opts: { selected?: string; destroyExit?: number } = {}): Recorded {
    const calls: Recorded["calls"] = [];
    const out: string[] = [];
    const err: string[] = [];
    const pulumi: PulumiRunner = async (args, mode) => {
        calls.push({ args: [...args], mode });
        if (args[0] === "stack" && args[1] === "--show-name") {
            return { code: 0, stdout: `${opts.selected ?? "dev"}\n` };
        }
        if (args[0] === "stack" && args[1] === "output") {
            return { code: 0, stdout: outputsJson(args.includes("--show-secrets")) };
        }
        if (args[0] === "destroy") {
            return { code: opts.destroyExit ?? 0, stdout: "" };
        }
        throw new Error(`unexpected pulumi call: ${args.join(" ")}`);
    };
    return { io: { projectDir, pulumi, out: (l) => out.push(l), err: (l) => err.push(l) }, calls, out, err, text: () => [...out, ...err].join("\n") };
}

function expectNoSecret(text: string): void {
    for (const secret of SECRET_TEXTS) {
        expect(text).not.toContain(secret);
    }
}

let tmp: string;
let project: string;
beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hero-commands-"));
    project = makeProject(tmp);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("teardown", () => {
    it("prints and runs the exact targeted destroy for a user in the users file", async () => {
        const r = recorder(project);
        const code = await teardown(["alice"], r.io);
        expect(code).toBe(0);
        const urn = "urn:pulumi:dev::hero-os-grid-deployer::hero:demo:Environment::alice";
        const destroy = ["destroy", "--target", urn, "--target-dependents", "--stack", "dev"];
        expect(r.calls.at(-1)).toEqual({ args: destroy, mode: "inherit" });
        expect(r.out).toContain(`Running: pulumi destroy --target ${urn} --target-dependents --stack dev`);
        // The user is still in the users file: the admin is told to take them out.
        expect(r.out.at(-1)).toBe("Reminder: remove alice from people/demo.yaml too, or the next `pulumi up` creates their environment again.");
    });

    it("tears down a user who left the users file but is still in the stack's environments, and says the file is done", async () => {
        const r = recorder(project);
        expect(await teardown(["zed", "--stack", "dev", "--yes"], r.io)).toBe(0);
        expect(r.calls.at(-1)?.args).toEqual(["destroy", "--target", "urn:pulumi:dev::hero-os-grid-deployer::hero:demo:Environment::zed", "--target-dependents", "--stack", "dev", "--yes"]);
        expect(r.out.at(-1)).toBe("zed is no longer in people/demo.yaml, so the next `pulumi up` will not create them again.");
    });

    it("uses the lowercased username in the URN and the file's spelling in messages", async () => {
        const r = recorder(project);
        expect(await teardown(["ALICE"], r.io)).toBe(0);
        expect(r.calls.at(-1)?.args[2]).toBe("urn:pulumi:dev::hero-os-grid-deployer::hero:demo:Environment::alice");
        expect(r.out.at(-1)).toContain("remove alice from");
    });

    it("destroys a user in the users file who has no environment yet, saying so", async () => {
        const r = recorder(project);
        expect(await teardown(["bob"], r.io)).toBe(0);
        expect(r.out[0]).toBe("bob is in people/demo.yaml but not in the stack's environments output; destroying whatever the stack holds for them.");
        expect(r.calls.at(-1)?.args.slice(0, 3)).toEqual(["destroy", "--target", "urn:pulumi:dev::hero-os-grid-deployer::hero:demo:Environment::bob"]);
    });

    it("refuses an unknown user with a message naming it, before running any destroy", async () => {
        const r = recorder(project);
        expect(await teardown(["mallory"], r.io)).toBe(1);
        expect(r.err.join("\n")).toContain('teardown: unknown user "mallory": not in people/demo.yaml and not in the `environments` output of stack dev. Nothing was run.');
        expect(r.err.join("\n")).toContain("Known users: alice, bob, zed.");
        // Only the read-only look-ups ran.
        expect(r.calls.map((c) => c.args.slice(0, 2))).toEqual([["stack", "--show-name"], ["stack", "output"]]);
    });

    it("refuses a missing username, two usernames, unknown options and --show-secrets, running nothing", async () => {
        for (const argv of [[], ["alice", "bob"], ["alice", "--force"], ["alice", "--show-secrets"], ["--stack"], ["-rf"], ["../alice"]]) {
            const r = recorder(project);
            expect(await teardown(argv, r.io), argv.join(" ")).toBe(2);
            expect(r.calls, argv.join(" ")).toEqual([]);
            expect(r.err.at(-1)).toMatch(/^usage: npm run teardown -- <username>/);
        }
        const none = recorder(project);
        await teardown([], none.io);
        expect(none.err[0]).toBe("teardown: no username given");
    });

    it("passes pulumi's exit code on when the destroy fails, and still reminds about the users file", async () => {
        const r = recorder(project, { destroyExit: 255 });
        expect(await teardown(["alice"], r.io)).toBe(255);
        expect(r.out.join("\n")).toContain("pulumi destroy failed (exit 255)");
        expect(r.out.at(-1)).toMatch(/^Reminder: remove alice from people\/demo.yaml/);
    });

    it("takes the selected stack when --stack is not given, and the short name of an org/project/stack", async () => {
        const r = recorder(project, { selected: "acme/hero-os-grid-deployer/dev" });
        expect(await teardown(["alice"], r.io)).toBe(0);
        expect(r.calls.at(-1)?.args).toEqual(["destroy", "--target", "urn:pulumi:dev::hero-os-grid-deployer::hero:demo:Environment::alice", "--target-dependents", "--stack", "acme/hero-os-grid-deployer/dev"]);
    });

    it("never asks pulumi for secrets and prints none", async () => {
        const r = recorder(project);
        await teardown(["alice"], r.io);
        await teardown(["zed"], r.io);
        await teardown(["mallory"], r.io);
        expect(r.calls.some((c) => c.args.includes("--show-secrets"))).toBe(false);
        expectNoSecret(r.text());
    });
});

describe("handout", () => {
    it("prints cockpit URL, Forge URL and login, AI keys, the non-production warning and the expiry, without the password", async () => {
        const r = recorder(project);
        expect(await handout(["alice"], r.io)).toBe(0);
        const text = r.out.join("\n");
        expect(text).toContain("Cockpit:   https://devalice.gent02.grid.tf/hero_cockpit/web/");
        expect(text).toContain("Forge:     https://forge.example.org");
        expect(text).toContain("Login:     alice");
        expect(text).toContain("Password:  (sent to you separately)");
        expect(text).toContain("Expires:   2027-03-31");
        expect(text).toMatch(/OpenRouter, Groq or SambaNova and paste it into the cockpit settings/);
        expect(text).toContain("This is a demo environment, not for production");
        expect(text).toContain("data in it may be lost");
        expect(r.err).toEqual([]);
    });

    it("without --show-secrets: asks pulumi for no secret and prints none", async () => {
        const r = recorder(project);
        await handout(["alice"], r.io);
        await handout(["zed"], r.io);
        expect(r.calls.filter((c) => c.args[1] === "output").map((c) => c.args)).toEqual([
            ["stack", "output", "--json", "--stack", "dev"],
            ["stack", "output", "--json", "--stack", "dev"],
        ]);
        expectNoSecret(r.text());
    });

    it("with --show-secrets: prints the temporary password, warns the admin on stderr, and still no token or key", async () => {
        const r = recorder(project);
        expect(await handout(["alice", "--show-secrets"], r.io)).toBe(0);
        expect(r.calls.at(-1)?.args).toEqual(["stack", "output", "--json", "--stack", "dev", "--show-secrets"]);
        expect(r.out.join("\n")).toContain(`Password:  ${SECRETS.alice.password}`);
        expect(r.err).toEqual(["handout: this message holds a password: send it to the user over a private channel, and to no one else."]);
        const rest = r.text().replace(SECRETS.alice.password, "");
        expectNoSecret(rest);
    });

    it("with --show-secrets for an adopted account: no password of ours, and how to bring their own Forge token", async () => {
        const r = recorder(project);
        expect(await handout(["zed", "--show-secrets"], r.io)).toBe(0);
        const text = r.out.join("\n");
        expect(text).toContain("Password:  your existing Forge password");
        expect(text).toContain("create one in the Forge");
        expect(text).not.toContain("Expires:");
        expectNoSecret(r.text());
    });

    it("refuses an unknown user the same way as teardown", async () => {
        const r = recorder(project);
        expect(await handout(["mallory", "--show-secrets"], r.io)).toBe(1);
        expect(r.err.join("\n")).toContain('handout: unknown user "mallory": not in people/demo.yaml and not in the `environments` output of stack dev. Nothing was run.');
        expect(r.out).toEqual([]);
        expectNoSecret(r.text());
    });

    it("refuses a declared user who has no environment yet", async () => {
        const r = recorder(project);
        expect(await handout(["bob"], r.io)).toBe(1);
        expect(r.err).toEqual(["handout: bob is in people/demo.yaml but has no environment on stack dev yet; run `pulumi up` first."]);
    });

    it("refuses bad command lines before calling pulumi", async () => {
        for (const argv of [[], ["alice", "bob"], ["alice", "--show-secret"], ["alice", "--show-secrets=yes"], ["alice", "--yes"]]) {
            const r = recorder(project);
            expect(await handout(argv, r.io), argv.join(" ")).toBe(2);
            expect(r.calls, argv.join(" ")).toEqual([]);
        }
    });

    it("welcomeMessage is pure: the hidden form holds nothing but what it is given", () => {
        const text = welcomeMessage("carol", env("carol"), { kind: "hidden" }, false);
        expect(text.split("\n")[0]).toBe("Welcome to your Hero OS demo environment, carol!");
        expect(text).not.toContain("Expires");
        expect(text).not.toContain("Forge token");
    });

    it("welcomeMessage never prints undefined: a field the outputs lack is named as missing (regression: `Cockpit: undefined`)", () => {
        const { cockpitUrl: _c, forgeLogin: _l, ...partial } = env("carol");
        const text = welcomeMessage("carol", partial, { kind: "hidden" }, false);
        expect(text).not.toContain("undefined");
        expect(text).toContain("  Cockpit:   (no cockpit URL recorded)");
        expect(text).toContain("  Login:     (no Forge login recorded)");
        expect(text).toContain("  Forge:     https://forge.example.org");
    });
});

describe("the users file", () => {
    it("still gives its usernames when it does not validate, with a warning, so a teardown is not blocked", async () => {
        const dir = makeProject(tmp);
        fs.appendFileSync(path.join(dir, "people", "demo.yaml"), "  - username: eve\n    email: not-an-email\n    fullName: Eve\n");
        const r = recorder(dir);
        expect(await teardown(["eve"], r.io)).toBe(0);
        expect(r.err[0]).toMatch(/^teardown: warning: the users file does not load \(people\/demo.yaml:\d+:\d+: .*not-an-email.*\); its usernames are taken as written$/);
        expect(r.out.at(-1)).toBe("Reminder: remove eve from people/demo.yaml too, or the next `pulumi up` creates their environment again.");
    });

    it("defaults to users/users.yaml when the stack config names none", async () => {
        const dir = makeProject(tmp);
        fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), "config: {}\n");
        const r = recorder(dir);
        expect(await teardown(["mallory"], r.io)).toBe(1);
        expect(r.err[0]).toBe(
            "teardown: warning: the users file does not load (users/users.yaml:1:1: cannot read the users file: no such file); its usernames cannot be read, so nothing is known of who is in it",
        );
        expect(r.err[1].split("\n")[0]).toBe(
            'teardown: unknown user "mallory": not in the `environments` output of stack dev, and users/users.yaml does not load, so whether they are in it cannot be told. Nothing was run.',
        );
        // Known users come from the stack outputs only: the default file does not exist here.
        expect(r.err[1].split("\n")[1]).toBe("Known users: alice, zed.");
    });
});

describe("the users file, when it does not load at all (regression: teardown said a user was no longer in it)", () => {
    const broken = () => {
        const dir = makeProject(tmp);
        fs.appendFileSync(path.join(dir, "people", "demo.yaml"), "  - username: [unclosed\n");
        return dir;
    };

    it("teardown says so, and never claims the user is absent from the file", async () => {
        const r = recorder(broken());
        expect(await teardown(["alice"], r.io)).toBe(0);
        expect(r.err[0]).toMatch(/^teardown: warning: the users file does not load \(people\/demo\.yaml:\d+:\d+: YAML syntax: .*\); its usernames cannot be read, so nothing is known of who is in it$/);
        expect(r.text()).not.toContain("no longer in");
        expect(r.out.at(-1)).toBe(
            "people/demo.yaml does not load, so it cannot be told whether alice is still in it: check, or the next `pulumi up` after it is fixed creates their environment again.",
        );
    });

    it("handout says so too, and still hands out a deployed environment", async () => {
        const r = recorder(broken());
        expect(await handout(["alice"], r.io)).toBe(0);
        expect(r.err[0]).toMatch(/^handout: warning: the users file does not load \(people\/demo\.yaml:\d+:\d+: YAML syntax: /);
        expect(r.out.join("\n")).toContain("Welcome to your Hero OS demo environment, alice!");
    });

    it("regression: 150 users sharing one anchor neither crash teardown nor handout (yaml's alias count threw)", async () => {
        const dir = makeProject(tmp);
        const lines = ["x-sizes:", "  big: &big { memoryGb: 16 }", "users:", "  - { username: alice, email: alice@example.org, fullName: A, vm: *big }"];
        for (let i = 0; i < 150; i++) lines.push(`  - { username: u${i}, email: u${i}@example.org, fullName: U, vm: *big }`);
        fs.writeFileSync(path.join(dir, "people", "demo.yaml"), lines.join("\n") + "\n");
        const t = recorder(dir);
        expect(await teardown(["alice"], t.io)).toBe(0);
        expect(t.err).toEqual([]);
        expect(t.out.at(-1)).toBe("Reminder: remove alice from people/demo.yaml too, or the next `pulumi up` creates their environment again.");
        const h = recorder(dir);
        expect(await handout(["alice"], h.io)).toBe(0);
        expect(h.err).toEqual([]);
    });
});

/** The entry points as `npm run teardown|handout` runs them, with a fake `pulumi` first on PATH. */
describe("entry points with a fake pulumi on PATH", () => {
    let bin: string;
    let log: string;
    beforeAll(() => {
        bin = fs.mkdtempSync(path.join(tmp, "bin-"));
        log = path.join(bin, "calls.log");
        const outputs = path.join(bin, "outputs.json");
        fs.writeFileSync(outputs, JSON.stringify(OUTPUTS));
        // Records its argv, answers like pulumi: secrets are "[secret]" unless --show-secrets.
        fs.writeFileSync(
            path.join(bin, "pulumi"),
            [
                "#!/usr/bin/env node",
                "const fs = require('fs');",
                "const args = process.argv.slice(2);",
                `fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify(args) + '\\n');`,
                `const outputs = JSON.parse(fs.readFileSync(${JSON.stringify(outputs)}, 'utf8'));`,
                "if (args[0] === 'stack' && args[1] === 'output') {",
                "  if (!args.includes('--show-secrets')) outputs.credentials = '[secret]';",
                "  process.stdout.write(JSON.stringify(outputs, null, 4) + '\\n');",
                "} else if (args[0] === 'destroy') {",
                "  process.stdout.write('Destroying (dev)... Resources: 9 deleted\\n');",
                "  process.exitCode = Number(process.env.FAKE_DESTROY_EXIT || 0);",
                "} else { process.stderr.write('fake pulumi: unexpected ' + args.join(' ') + '\\n'); process.exitCode = 99; }",
                "",
            ].join("\n"),
            { mode: 0o755 },
        );
    });

    function run(script: string, args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string; calls: string[][] }> {
        fs.rmSync(log, { force: true });
        return new Promise((resolve) => {
            execFile(
                path.join(REPO, "node_modules", ".bin", "ts-node"),
                [path.join(REPO, "scripts", script), ...args],
                { cwd: REPO, env: { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH}`, TS_NODE_TRANSPILE_ONLY: "true", ...extraEnv } },
                (error, stdout, stderr) => {
                    const calls = fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n").map((l) => JSON.parse(l) as string[]) : [];
                    resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr, calls });
                },
            );
        });
    }

    it("teardown spawns the destroy and passes its exit code on; the unknown user runs no destroy", async () => {
        // zed is in the fake stack's environments, not in the repository's users file.
        const ok = await run("teardown.ts", ["zed", "--stack", "dev", "--yes"], { FAKE_DESTROY_EXIT: "3" });
        expect(ok.stdout).toContain("Running: pulumi destroy --target urn:pulumi:dev::hero-os-grid-deployer::hero:demo:Environment::zed --target-dependents --stack dev --yes");
        expect(ok.stdout).toContain("Destroying (dev)... Resources: 9 deleted");
        expect(ok.code).toBe(3);
        expect(ok.calls.at(-1)).toEqual(["destroy", "--target", "urn:pulumi:dev::hero-os-grid-deployer::hero:demo:Environment::zed", "--target-dependents", "--stack", "dev", "--yes"]);
        expectNoSecret(ok.stdout + ok.stderr);

        const refused = await run("teardown.ts", ["nobody-by-this-name", "--stack", "dev"]);
        expect(refused.code).toBe(1);
        expect(refused.stderr).toContain('unknown user "nobody-by-this-name"');
        expect(refused.calls.some((c) => c[0] === "destroy")).toBe(false);
    });

    it("handout prints no secret without --show-secrets, and asks pulumi for none", async () => {
        const hidden = await run("handout.ts", ["zed", "--stack", "dev"]);
        expect(hidden.code).toBe(0);
        expect(hidden.stdout).toContain("Cockpit:   https://devzed.gent02.grid.tf/hero_cockpit/web/");
        expectNoSecret(hidden.stdout + hidden.stderr);
        expect(hidden.calls).toEqual([["stack", "output", "--json", "--stack", "dev"]]);
    });
});
