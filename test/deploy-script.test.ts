/**
 * `npm run deploy` (scripts/deploy.sh) against a fake `pulumi` first on PATH
 * that records its arguments, run in a project directory of its own (Pulumi.yaml
 * and a users file), as npm runs it from a clone.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { beforeEach, describe, expect, it } from "vitest";

const SCRIPT = path.resolve(__dirname, "..", "scripts", "deploy.sh");
let bin: string;
let log: string;
let project: string;

const ONE_USER = "users:\n  - username: alice\n    email: alice@example.org\n    fullName: Alice Example\n";

/** A fake pulumi: records argv; `config get forgeToken` succeeds only when HAS_TOKEN=1. */
function fakePulumi(): void {
    fs.writeFileSync(
        path.join(bin, "pulumi"),
        `#!/usr/bin/env bash\necho "$*" >> "${log}"\nif [[ "$1 $2 $3" == "config get forgeToken" && "\${HAS_TOKEN:-}" != 1 ]]; then exit 1; fi\nexit 0\n`,
        { mode: 0o755 },
    );
}

function deploy(env: Record<string, string>, ...args: string[]) {
    const PATH = `${bin}:${path.dirname(process.execPath)}:/usr/bin:/bin`;
    const r = spawnSync("bash", [SCRIPT, ...args], { cwd: project, encoding: "utf8", env: { PATH, HOME: bin, ...env } });
    const calls = fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : [];
    return { status: r.status, out: r.stdout, err: r.stderr, calls };
}

beforeEach(() => {
    bin = fs.mkdtempSync(path.join(os.tmpdir(), "deploy-test-"));
    log = path.join(bin, "calls.log");
    project = path.join(bin, "project");
    fs.mkdirSync(path.join(project, "users"), { recursive: true });
    fs.writeFileSync(path.join(project, "Pulumi.yaml"), "name: hero-os-grid-deployer\nruntime: nodejs\n");
    fs.writeFileSync(path.join(project, "users", "users.yaml"), ONE_USER);
});

describe("npm run deploy", () => {
    it("says so when the Pulumi CLI is missing", () => {
        const r = deploy({});
        expect(r.status).toBe(1);
        expect(r.err).toContain("deploy: the Pulumi CLI is not installed");
    });

    it("uses a local file backend by default, and refuses to start without a passphrase for its secrets", () => {
        fakePulumi();
        const r = deploy({});
        expect(r.status).toBe(1);
        expect(r.err).toContain("set PULUMI_CONFIG_PASSPHRASE");
        expect(r.calls).toEqual([]);
    });

    it("asks for the Forge admin token once, through stdin, before any update", () => {
        fakePulumi();
        const r = deploy({ PULUMI_CONFIG_PASSPHRASE: "x", PULUMI_BACKEND_URL: `file://${bin}/state` });
        expect(r.status).toBe(1);
        expect(r.err).toContain("stack dev has no forgeToken");
        expect(r.err).toContain("pulumi config set --secret forgeToken --stack dev");
        expect(r.calls).toEqual(["stack select dev --create", "config get forgeToken --stack dev"]);
    });

    it("selects or creates the stack, then runs pulumi up with the flags given", () => {
        fakePulumi();
        const r = deploy({ PULUMI_CONFIG_PASSPHRASE: "x", PULUMI_BACKEND_URL: `file://${bin}/state`, HAS_TOKEN: "1", STACK: "cohort-b" }, "--yes");
        expect(r.status).toBe(0);
        expect(r.out).toContain(`deploy: stack cohort-b, backend file://${bin}/state`);
        expect(r.calls).toEqual(["stack select cohort-b --create", "config get forgeToken --stack cohort-b", "up --stack cohort-b --yes"]);
        expect(fs.existsSync(path.join(bin, "state"))).toBe(true);
    });

    it("runs pulumi up with PULUMI_PARALLEL=32 unless the admin set it (the CLI's default is 4 per CPU)", () => {
        fs.writeFileSync(path.join(bin, "pulumi"), `#!/usr/bin/env bash\necho "$1 PULUMI_PARALLEL=\${PULUMI_PARALLEL:-unset}" >> "${log}"\n`, { mode: 0o755 });
        const env = { PULUMI_BACKEND_URL: "https://api.pulumi.com" };
        expect(deploy(env).calls.at(-1)).toBe("up PULUMI_PARALLEL=32");
        fs.rmSync(log);
        expect(deploy({ ...env, PULUMI_PARALLEL: "4" }).calls.at(-1)).toBe("up PULUMI_PARALLEL=4");
    });

    it("leaves other backends alone: no passphrase needed for Pulumi Cloud", () => {
        fakePulumi();
        const r = deploy({ PULUMI_BACKEND_URL: "https://api.pulumi.com", HAS_TOKEN: "1" });
        expect(r.status).toBe(0);
        expect(r.calls.at(-1)).toBe("up --stack dev");
    });

    it("checks the users file before the Pulumi CLI: a broken one stops with every problem's position, and pulumi is never run", () => {
        fakePulumi();
        fs.writeFileSync(path.join(project, "users", "users.yaml"), ONE_USER + "    services: [ofice]\n  - username: Alice\n    email: bad\n    fullName: A\n");
        const r = deploy({ PULUMI_CONFIG_PASSPHRASE: "x", PULUMI_BACKEND_URL: `file://${bin}/state`, HAS_TOKEN: "1" }, "--yes");
        expect(r.status).toBe(1);
        expect(r.out).toContain('users/users.yaml:5:16: user "alice": services[0]: "ofice" is not a service');
        expect(r.out).toContain('users/users.yaml:6:15: user "Alice": username: "Alice" is already used by user "alice"');
        expect(r.out).toContain('users/users.yaml:7:12: user "Alice": email: "bad" is not an email address');
        expect(r.err).toContain("deploy: stopped before pulumi up; nothing was deployed");
        expect(r.calls).toEqual([]);
    });

    it("regression: a fresh clone deployed the example users; an empty users file stops deploy, saying how to begin and how to tear down instead", () => {
        fakePulumi();
        fs.copyFileSync(path.resolve(__dirname, "..", "users", "users.yaml"), path.join(project, "users", "users.yaml"));
        const r = deploy({ PULUMI_CONFIG_PASSPHRASE: "x", PULUMI_BACKEND_URL: `file://${bin}/state`, HAS_TOKEN: "1" }, "--yes");
        expect(r.status).toBe(1);
        expect(r.out).toContain("validate: users/users.yaml lists no user, so pulumi up on stack dev would deploy nothing");
        expect(r.out).toContain("To begin: copy one entry from users/users.example.yaml");
        expect(r.out).toContain("run `pulumi up --stack dev`");
        expect(r.calls).toEqual([]);
    });
});
