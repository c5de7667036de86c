/**
 * `npm run validate`: the users file checked as `pulumi up` checks it (the same
 * loader, the stack's usersFile and namePrefix), every problem with its position,
 * exit codes 0, 1 and 2, and the entry point run with no Pulumi CLI, no
 * credentials and every network connection refused.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { beforeEach, describe, expect, it } from "vitest";
import { validate } from "../scripts/validate";
import { positioned } from "../scripts/lib/validate-check";
import { loadUsersFile, UsersFileError } from "../users/load";

const REPO = path.resolve(__dirname, "..");
const TODAY = "2026-11-24";
const ALICE = ["  - username: alice", "    email: alice@example.org", "    fullName: Alice Example"];
const BROKEN = ["users:", ...ALICE, "    services: [slides, ofice]", "  - username: Alice", "    email: not-an-email", "    fullName: Alice Again"].join("\n") + "\n";

let dir: string;

function write(rel: string, text: string): string {
    const file = path.join(dir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    return file;
}

async function run(...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await validate(argv, { projectDir: dir, out: (l) => out.push(l), err: (l) => err.push(l) }, { today: TODAY, defaultStack: "dev" });
    return { code, out, err };
}

beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "validate-"));
    write("Pulumi.yaml", "name: hero-os-grid-deployer\nruntime: nodejs\n");
});

describe("npm run validate", () => {
    it("prints every problem of a broken file with file:line:col, the very lines pulumi up's loader reports, and exits 1", async () => {
        write("users/users.yaml", BROKEN);
        const r = await run();
        expect(r.code).toBe(1);
        let expected: string[] = [];
        try {
            loadUsersFile(path.join(dir, "users/users.yaml"), { displayPath: "users/users.yaml", namePrefix: "dev", today: TODAY });
        } catch (e) {
            expected = (e as UsersFileError).problems;
        }
        expect(expected).toHaveLength(3);
        expect(r.out).toEqual([...expected, "validate: users/users.yaml has 3 problems (stack dev); pulumi up would stop before deploying anything"]);
        expect(r.out[0]).toMatch(/^users\/users\.yaml:5:24: user "alice": services\[1\]: "ofice" is not a service/);
    });

    it("--json gives each problem as file, line, column and message", async () => {
        write("users/users.yaml", BROKEN);
        const r = await run("--json");
        expect(r.code).toBe(1);
        const doc = JSON.parse(r.out.join("\n"));
        expect(doc).toMatchObject({ ok: false, file: "users/users.yaml", stack: "dev", configFile: null, users: [] });
        expect(doc.problems.map((p: { line: number; col: number }) => [p.line, p.col])).toEqual([[5, 24], [6, 15], [7, 12]]);
        expect(doc.problems[2]).toEqual({ file: "users/users.yaml", line: 7, col: 12, message: 'user "Alice": email: "not-an-email" is not an email address (name@example.org)' });
    });

    it("a valid file: who is deployed, who has expired (the next up tears them down) and who expires within 7 days; exit 0", async () => {
        const lines = ["users:", ...ALICE, '    expires: "2026-11-30"', "  - username: bob", "    email: bob@example.org", "    fullName: Bob", '    expires: "2026-11-01"', "  - username: carol", "    email: carol@example.org", "    fullName: Carol"];
        write("people.yaml", lines.join("\n") + "\n");
        const r = await run("people.yaml".replace(/^/, `${dir}/`));
        expect(r.code).toBe(0);
        expect(r.out).toEqual([
            `validate: ${dir}/people.yaml is valid for stack dev: 2 users to deploy (alice, carol)`,
            "validate: bob: expired on 2026-11-01; not deployed, so the next pulumi up tears the environment down",
            "validate: alice: expires on 2026-11-30; torn down by the first pulumi up after that day",
        ]);
    });

    it("reads the stack's config file: its usersFile, and its namePrefix in the grid-name checks", async () => {
        write("Pulumi.cohort.yaml", "config:\n  hero-os-grid-deployer:usersFile: people/cohort.yaml\n  hero-os-grid-deployer:namePrefix: averylongpfx\n");
        const long = "a".repeat(25);
        write("people/cohort.yaml", ["users:", `  - username: ${long}`, "    email: a@example.org", "    fullName: A"].join("\n") + "\n");
        const r = await run("--stack", "cohort");
        expect(r.code).toBe(1);
        expect(r.out[0]).toBe(`people/cohort.yaml:2:15: user "${long}": username: "${long}" makes a grid name the grid refuses: "averylongpfx${long}" is not a grid name (3 to 36 lowercase letters or digits); choose a shorter username or namePrefix`);
        // The same file under the default prefix (6 letters of the stack name and 4 hex digits) passes.
        write("Pulumi.cohort.yaml", "config:\n  hero-os-grid-deployer:usersFile: people/cohort.yaml\n");
        expect((await run("--stack", "cohort")).code).toBe(0);
    });

    it("a namePrefix the program refuses is reported at its place in the stack's config file", async () => {
        write("Pulumi.dev.yaml", "config:\n  hero-os-grid-deployer:namePrefix: Bad-Prefix\n");
        write("users/users.yaml", ["users:", ...ALICE].join("\n") + "\n");
        const r = await run();
        expect(r.code).toBe(1);
        expect(r.out[0]).toBe('Pulumi.dev.yaml:2:37: config hero-os-grid-deployer:namePrefix must be at most 12 lowercase letters or digits, not "Bad-Prefix"');
        expect(positioned(r.out[0])).toMatchObject({ file: "Pulumi.dev.yaml", line: 2, col: 37 });
    });

    it("an empty file is valid and says how to begin; --require-users (what deploy runs) fails on it, saying how to tear down instead", async () => {
        fs.mkdirSync(path.join(dir, "users"));
        fs.copyFileSync(path.join(REPO, "users", "users.yaml"), path.join(dir, "users", "users.yaml"));
        const r = await run();
        expect(r.code).toBe(0);
        expect(r.out[0]).toBe("validate: users/users.yaml lists no user, so pulumi up on stack dev would deploy nothing (and would tear down every environment the stack has).");
        expect(r.out[1]).toContain("To begin: copy one entry from users/users.example.yaml");
        const strict = await run("--require-users");
        expect(strict.code).toBe(1);
        expect(strict.out.at(-1)).toBe("To tear down every environment of stack dev instead, run `pulumi up --stack dev`: it lists what goes before it asks.");
    });

    it("regression: a field name from the file cannot clear the terminal; control characters are shown as escapes", async () => {
        write("users/users.yaml", ["users:", ...ALICE, '    "evil\\e[2J": 1'].join("\n") + "\n");
        const r = await run();
        expect(r.code).toBe(1);
        expect(r.out[0]).toBe('users/users.yaml:5:5: user "alice": evil\\x1b[2J: is not a known field (known fields: username, email, fullName, services, expires, sshKeys, vm, gatewayName)');
        expect(r.out.join("\n")).not.toContain("\u001b");
    });

    it("exits 2 on a bad command line, with the usage", async () => {
        for (const argv of [["--stak", "dev"], ["a.yaml", "b.yaml"], ["--stack", " "]]) {
            const r = await run(...argv);
            expect(r.code, argv.join(" ")).toBe(2);
            expect(r.err.at(-1)).toContain("--require-users");
        }
    });

    it("the entry point runs with no pulumi on PATH, no credentials, and every socket refused", () => {
        write("users/users.yaml", BROKEN);
        const deny = write("deny-network.js", [
            'const net = require("net"); const dns = require("dns");',
            'const refuse = () => { throw new Error("validate opened a network connection"); };',
            "net.Socket.prototype.connect = refuse; dns.lookup = refuse;",
        ].join("\n"));
        const env = { PATH: path.dirname(process.execPath), HOME: dir };
        const r = spawnSync(process.execPath, ["-r", deny, "-r", path.join(REPO, "scripts/lib/ts-cache.js"), path.join(REPO, "scripts/validate.ts")], { cwd: dir, env, encoding: "utf8" });
        expect(r.stderr).toBe("");
        expect(r.status).toBe(1);
        expect(r.stdout.split("\n").filter((l) => /^users\/users\.yaml:\d+:\d+: /.test(l))).toHaveLength(3);
    });
});
