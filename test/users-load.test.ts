import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { memoryNeededMb, resolveServices } from "../users/catalog";
import { loadUsersFile, parseUsersFile, UsersFileError } from "../users/load";
import { usersJsonSchema } from "../users/zod-schema";
import { PUBLIC_KEYS } from "./support/ssh-keys";

const opts = { displayPath: "users/users.yaml", namePrefix: "dev", today: "2026-11-24" };
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBUyE6b2oXHDd0y9Hn0ZxUbj8QyFjmvFHOhzFJzO6Vbt alice@laptop";

/** Builds a users file from lines, so line numbers in expectations are easy to read. */
const file = (...lines: string[]) => lines.join("\n") + "\n";

function problemsOf(text: string, options = opts): string[] {
    try {
        parseUsersFile(text, options);
    } catch (err) {
        expect(err).toBeInstanceOf(UsersFileError);
        return (err as UsersFileError).problems;
    }
    throw new Error("expected the file to be refused");
}

const alice = ["  - username: alice", "    email: alice@example.org", "    fullName: Alice Example"];

describe("users file: good files", () => {
    it("applies defaults: 8 GB, 4 cpu, 50 GB disk, core services first", () => {
        const { users } = parseUsersFile(file("users:", ...alice), opts);
        expect(users).toEqual([
            {
                username: "alice",
                email: "alice@example.org",
                fullName: "Alice Example",
                services: ["proc", "router", "proxy", "cockpit", "embedder", "books"],
                optional: [],
                expires: undefined,
                sshKeys: [],
                vm: { memoryMb: 8192, cpu: 4, diskGb: 50, node: undefined },
                gridName: "devalice",
                gatewayName: "devalice",
            },
        ]);
    });

    it("takes defaults.services unless the user lists their own, and per-user vm overrides", () => {
        const { users } = parseUsersFile(
            file(
                "defaults:",
                "  vm: { memoryGb: 16, cpu: 8 }",
                "  services: [slides]",
                "users:",
                ...alice,
                "  - username: bob.smith",
                "    email: bob@example.org",
                "    fullName: Bob",
                "    services: [voice, agents]",
                "    vm: { memoryGb: 6, node: 42 }",
                "    gatewayName: bobdemo",
                `    sshKeys: ["${KEY}"]`,
            ),
            opts,
        );
        expect(users[0].optional).toEqual(["slides"]);
        expect(users[0].vm).toEqual({ memoryMb: 16384, cpu: 8, diskGb: 50, node: undefined });
        expect(users[1].services).toEqual(["proc", "router", "proxy", "cockpit", "embedder", "books", "agents", "voice"]);
        expect(users[1].vm).toEqual({ memoryMb: 6144, cpu: 8, diskGb: 50, node: 42 });
        expect(users[1].gridName).toBe("devbobsmith");
        expect(users[1].gatewayName).toBe("bobdemo");
        expect(users[1].sshKeys).toEqual([KEY]);
    });

    it("the shipped users/users.example.yaml is valid, lists the example users and starts with the schema comment", () => {
        const example = path.join(__dirname, "..", "users", "users.example.yaml");
        expect(fs.readFileSync(example, "utf8").split("\n")[0]).toBe("# yaml-language-server: $schema=./schema.json");
        expect(loadUsersFile(example, opts).users.map((u) => u.username)).toEqual(["alice", "bob"]);
    });

    it("regression: a fresh clone deployed the example users; the shipped users/users.yaml is valid, lists no user and says how to begin", () => {
        const shipped = path.join(__dirname, "..", "users", "users.yaml");
        const text = fs.readFileSync(shipped, "utf8");
        expect(text.split("\n")[0]).toBe("# yaml-language-server: $schema=./schema.json");
        const loaded = loadUsersFile(shipped, opts);
        expect([...loaded.users, ...loaded.expired]).toEqual([]);
        expect(text).toContain("users/users.example.yaml");
        expect(text).toContain("npm run validate");
    });

    it("leaves out users past their expiry and announces those expiring within 7 days", () => {
        const loaded = parseUsersFile(
            file(
                "users:",
                ...alice,
                '    expires: "2026-11-23"',
                "  - username: bob",
                "    email: bob@example.org",
                "    fullName: Bob",
                '    expires: "2026-12-01"',
                "  - username: carol",
                "    email: carol@example.org",
                "    fullName: Carol",
                '    expires: "2026-11-24"',
                "  - username: dave",
                "    email: dave@example.org",
                "    fullName: Dave",
                '    expires: "2026-12-02"',
            ),
            opts,
        );
        expect(loaded.users.map((u) => u.username)).toEqual(["bob", "carol", "dave"]);
        expect(loaded.expired.map((u) => u.username)).toEqual(["alice"]);
        expect(loaded.expiringSoon.map((u) => u.username)).toEqual(["bob", "carol"]);
    });

    it("memory budget: the full optional set fits 8 GB, and the figures add up", () => {
        const all = resolveServices(["slides", "whiteboard", "callup", "agents", "voice"]);
        expect(memoryNeededMb(all)).toBe(6528);
        expect(memoryNeededMb(all)).toBeLessThanOrEqual(8192);
    });
});

describe("users file: each rule, with its exact message", () => {
    it("a misspelt service gets a suggestion, office is refused with the reason, and a number is no service", () => {
        expect(problemsOf(file("users:", ...alice, "    services: [slides, ofice, office, 3]"))).toEqual([
            'users/users.yaml:5:24: user "alice": services[1]: "ofice" is not a service (did you mean "office"? office is not offered: too heavy for an 8 GB demo VM unless hosted elsewhere; choose from slides, whiteboard, callup, agents, voice)',
            'users/users.yaml:5:31: user "alice": services[2]: "office" is not offered: too heavy for an 8 GB demo VM unless hosted elsewhere',
            'users/users.yaml:5:39: user "alice": services[3]: 3 is not a service name (choose from slides, whiteboard, callup, agents, voice)',
        ]);
    });

    it("a service listed twice is refused, in defaults and per user (regression: duplicates passed silently)", () => {
        expect(problemsOf(file("defaults:", "  services: [slides, slides]", "users:", ...alice, "    services: [voice, agents, voice]"))).toEqual([
            'users/users.yaml:2:22: defaults: services[1]: "slides" is listed twice (first as services[0]; list each once)',
            'users/users.yaml:7:31: user "alice": services[2]: "voice" is listed twice (first as services[0]; list each once)',
        ]);
    });

    it("usernames are unique ignoring case, and emails are unique", () => {
        expect(problemsOf(file("users:", ...alice, "  - username: Alice", "    email: ALICE@example.org", "    fullName: A"))).toEqual([
            'users/users.yaml:5:15: user "Alice": username: "Alice" is already used by user "alice" (line 2; usernames are unique ignoring case)',
            'users/users.yaml:6:12: user "Alice": email: "ALICE@example.org" is already used by user "alice" (line 2)',
        ]);
    });

    it("a username that Forgejo refuses", () => {
        expect(problemsOf(file("users:", "  - username: al..ice", "    email: a@example.org", "    fullName: A"))).toEqual([
            'users/users.yaml:2:15: user "al..ice": username: "al..ice" is not a Forgejo username (letters, digits and single - _ . between them)',
        ]);
    });

    it("Forgejo's reserved names and patterns, ignoring case (regression: they failed only at up)", () => {
        const names = ["Admin", "forgejo-actions", "gitea-actions", "repo-avatars", "bob.keys", "Bob.GPG", "feed.rss", "x.atom", "me.png"];
        const text = file("users:", ...names.flatMap((n, i) => [`  - username: ${n}`, `    email: u${i}@example.org`, "    fullName: U"]));
        const why = (n: string) => {
            const suffix = /\.(keys|gpg|rss|atom|png)$/i.exec(n)?.[0].toLowerCase();
            return suffix ? `is reserved by Forgejo: names ending in ${suffix} are its routes (choose another username)` : "is reserved by Forgejo for its own pages (choose another username)";
        };
        expect(problemsOf(text)).toEqual(names.map((n, i) => `users/users.yaml:${2 + 3 * i}:15: user "${n}": username: "${n}" ${why(n)}`));
    });

    it("a username too long for a grid name is refused, not truncated into a collision", () => {
        const long = "a".repeat(34);
        expect(problemsOf(file("users:", `  - username: ${long}`, "    email: a@example.org", "    fullName: A"))).toEqual([
            `users/users.yaml:2:15: user "${long}": username: "${long}" makes a grid name the grid refuses: "dev${long}" is not a grid name (3 to 36 lowercase letters or digits); choose a shorter username or namePrefix`,
        ]);
    });

    it("two usernames that reduce to one grid name are refused (regression: a.b and ab would share a VM)", () => {
        expect(
            problemsOf(file("users:", "  - username: a.b", "    email: a@example.org", "    fullName: A", "  - username: ab", "    email: b@example.org", "    fullName: B")),
        ).toEqual([
            'users/users.yaml:5:15: user "ab": username: "ab" gives the grid name "devab", as user "a.b" (line 2) does (usernames must differ in their letters and digits)',
        ]);
    });

    it("a gateway name used twice is refused, given or derived from the username", () => {
        expect(
            problemsOf(file("users:", ...alice, "    gatewayName: demo1", "  - username: bob", "    email: b@example.org", "    fullName: B", "    gatewayName: demo1")),
        ).toEqual(['users/users.yaml:9:18: user "bob": gatewayName: "demo1" is already used by user "alice" (line 2; set a distinct gatewayName)']);
        expect(
            problemsOf(file("users:", ...alice, "    gatewayName: devbob", "  - username: bob", "    email: b@example.org", "    fullName: B")),
        ).toEqual(['users/users.yaml:6:15: user "bob": username: "bob" gives the gateway name "devbob", already used by user "alice" (line 2; set a distinct gatewayName)']);
        expect(problemsOf(file("users:", ...alice, "    gatewayName: Demo_1"))).toEqual([
            'users/users.yaml:5:18: user "alice": gatewayName: "Demo_1" is not a grid name (3 to 36 lowercase letters or digits)',
        ]);
    });

    it("bad email, bad date, and a !!timestamp shown as written (regression: printed as a JavaScript Date)", () => {
        expect(
            problemsOf(
                file("users:", "  - username: alice", "    email: alice-at-example", "    fullName: A", "    expires: 2026-02-30", "  - username: bob", "    email: b@example.org", "    fullName: B", "    expires: !!timestamp 2027-01-01"),
            ),
        ).toEqual([
            'users/users.yaml:3:12: user "alice": email: "alice-at-example" is not an email address (name@example.org)',
            'users/users.yaml:5:14: user "alice": expires: "2026-02-30" is not a date (write YYYY-MM-DD, e.g. "2027-03-31")',
            'users/users.yaml:9:26: user "bob": expires: the timestamp 2027-01-01 is not a date as text (quote it: "2027-01-01")',
        ]);
    });

    it("memory, cpu, disk and node outside the grid's limits, one separator, .nan shown as written (regressions)", () => {
        expect(
            problemsOf(
                file("defaults:", "  vm: { cpu: 0, memoryGb: -1 }", "users:", ...alice, "    vm: { memoryGb: 300, cpu: 33, diskGb: 10241, node: 2147483648 }", "  - username: bob", "    email: b@example.org", "    fullName: B", "    vm: { memoryGb: .nan, cpu: 1.5, node: 0, diskGb: 14 }"),
            ),
        ).toEqual([
            "users/users.yaml:2:14: defaults: vm.cpu: 0 is too small (1 to 32, whole)",
            "users/users.yaml:2:27: defaults: vm.memoryGb: -1 is too small (0.25 to 256 GB)",
            'users/users.yaml:7:21: user "alice": vm.memoryGb: 300 is too large (0.25 to 256 GB)',
            'users/users.yaml:7:31: user "alice": vm.cpu: 33 is too large (1 to 32, whole)',
            'users/users.yaml:7:43: user "alice": vm.diskGb: 10241 is too large (15 to 10240 GB, whole)',
            'users/users.yaml:7:56: user "alice": vm.node: 2147483648 is too large (1 to 2147483647, whole)',
            'users/users.yaml:11:21: user "bob": vm.memoryGb: .nan is not a number (0.25 to 256 GB)',
            'users/users.yaml:11:32: user "bob": vm.cpu: 1.5 is not a whole number (1 to 32, whole)',
            'users/users.yaml:11:43: user "bob": vm.node: 0 is too small (1 to 2147483647, whole)',
            'users/users.yaml:11:54: user "bob": vm.diskGb: 14 is too small (15 to 10240 GB, whole)',
        ]);
    });

    it("a full name longer than Forgejo's 100 characters (regression: 101 to 255 passed, then failed at up)", () => {
        expect(problemsOf(file("users:", "  - username: alice", "    email: a@example.org", `    fullName: ${"x".repeat(101)}`))).toEqual([
            'users/users.yaml:4:15: user "alice": fullName: is 101 characters long (1 to 100 characters, Forgejo\'s limit)',
        ]);
        expect(parseUsersFile(file("users:", "  - username: alice", "    email: a@example.org", `    fullName: ${"é".repeat(100)}`), opts).users).toHaveLength(1);
    });

    it("a selection that does not fit the VM's memory names the figures", () => {
        expect(problemsOf(file("users:", ...alice, "    services: [agents, voice]", "    vm: { memoryGb: 4 }"))).toEqual([
            'users/users.yaml:5:15: user "alice": services: the selection needs 5504 MB (proc 64 + router 64 + proxy 128 + cockpit 128 + embedder 1024 + books 512 + agents 1024 + voice 1024, plus 1536 MB for the OS) but the VM has 4096 MB (drop optional services or raise vm.memoryGb)',
        ]);
    });

    it("SSH keys: truncated, cut mid-base64, RSA 1024, DSA, a lying type, a repeat, and junk (regressions: the first three passed)", () => {
        const [type, blob] = PUBLIC_KEYS.ed25519.split(" ");
        const truncated = `${type} ${blob.slice(0, -4)}`;
        const cut = `${type} ${blob.slice(0, -1)}`;
        const lying = `ssh-ed25519 ${PUBLIC_KEYS.rsa2048.split(" ")[1]}`;
        const again = `${type} ${blob} the same key, another comment`;
        const keys = [PUBLIC_KEYS.ed25519, truncated, cut, PUBLIC_KEYS.rsa1024, PUBLIC_KEYS.dsa, lying, again, "hello"];
        const text = file("users:", ...alice, "    sshKeys:", ...keys.map((k) => `      - ${k}`));
        expect(problemsOf(text)).toEqual([
            'users/users.yaml:7:9: user "alice": sshKeys[1]: "ssh-ed25519 AAAAC3NzaC1l..." is truncated or damaged: its key data is cut short (paste the whole line of the .pub file)',
            'users/users.yaml:8:9: user "alice": sshKeys[2]: "ssh-ed25519 AAAAC3NzaC1l..." is truncated or damaged: its base64 does not decode (paste the whole line of the .pub file)',
            'users/users.yaml:9:9: user "alice": sshKeys[3]: "ssh-rsa AAAAB3NzaC1y..." is an RSA key of 1024 bits, too weak (RSA 2048 bits or more, or ssh-ed25519)',
            'users/users.yaml:10:9: user "alice": sshKeys[4]: "ssh-dss AAAAB3NzaC1k..." is a DSA key, which OpenSSH no longer accepts (ssh-ed25519, ecdsa, or ssh-rsa of 2048 bits or more)',
            'users/users.yaml:11:9: user "alice": sshKeys[5]: "ssh-ed25519 AAAAB3NzaC1y..." says ssh-ed25519 but its key data is "ssh-rsa" (paste the line unchanged)',
            `users/users.yaml:12:9: user "alice": sshKeys[6]: "${again.slice(0, 36)}..." is listed twice (first as sshKeys[0]; list each once)`,
            'users/users.yaml:13:9: user "alice": sshKeys[7]: "hello" is not an OpenSSH public key line ("<type> <base64> [comment]", as in a .pub file)',
        ]);
    });

    it("good SSH keys of every accepted kind load, trimmed", () => {
        const keys = [PUBLIC_KEYS.ed25519, PUBLIC_KEYS.rsa2048, PUBLIC_KEYS.ecdsa256, PUBLIC_KEYS.ecdsa384, PUBLIC_KEYS.ecdsa521];
        const { users } = parseUsersFile(file("users:", ...alice, "    sshKeys:", ...keys.map((k) => `      - "  ${k} "`)), opts);
        expect(users[0].sshKeys).toEqual(keys);
    });

    it("unknown fields are refused, with a suggestion; top-level x- keys are the admin's own", () => {
        expect(problemsOf(file("x-notes: anything", "defaults:", "  service: [slides]", "users:", ...alice, "    fullname: typo", "extra: 1"))).toEqual([
            'users/users.yaml:3:3: defaults: service: is not a known field (did you mean "services"?)',
            'users/users.yaml:8:5: user "alice": fullname: is not a known field (did you mean "fullName"?)',
            "users/users.yaml:9:1: extra: is not a known field (known fields: defaults, users)",
        ]);
    });

    it("missing fields, entries that are not maps, and a users list that is not a list", () => {
        expect(problemsOf(file("users:", "  - username: alice"))).toEqual([
            'users/users.yaml:2:5: user "alice": email: is required',
            'users/users.yaml:2:5: user "alice": fullName: is required',
        ]);
        expect(problemsOf(file("users:", "  - alice", "  -"))).toEqual([
            'users/users.yaml:2:5: user #1: "alice" is not a map of fields (username, email, fullName, services, expires, sshKeys, vm, gatewayName)',
            "users/users.yaml:3:4: user #2: is empty (a map of fields: username, email, fullName, services, expires, sshKeys, vm, gatewayName)",
        ]);
        expect(problemsOf(file("users: alice"))).toEqual(['users/users.yaml:1:8: users: "alice" is not a list (one entry per user)']);
        expect(problemsOf(file("users:"))).toEqual(["users/users.yaml:1:7: users: is empty (list the users under it, or write users: [])"]);
        expect(problemsOf(file("# nothing here"))).toEqual(["users/users.yaml:1:1: users: is required"]);
    });

    it("YAML syntax errors get the same file:line form", () => {
        expect(problemsOf(file("users:", "  - username: alice", "    email: [unclosed"))).toEqual([
            "users/users.yaml:4:1: YAML syntax: Flow sequence in block collection must be sufficiently indented and end with a ]",
        ]);
    });

    it("a duplicate key names the key and both lines, and does not hide other problems (regression: no key name)", () => {
        expect(problemsOf(file("users:", ...alice, "    email: again@example.org", "    vm: { cpu: 99 }"))).toEqual([
            'users/users.yaml:5:5: user "alice": email: appears twice in this map (first on line 3; keep one)',
            'users/users.yaml:6:16: user "alice": vm.cpu: 99 is too large (1 to 32, whole)',
        ]);
    });

    it("reports every problem at once, in file order, and a user that fails its own checks still takes part in the checks across users", () => {
        const problems = problemsOf(
            file(
                "users:",
                "  - username: alice",
                "    email: nope",
                "    fullName: A",
                "    gatewayName: shared1",
                "    services: [agents, voice, callup]",
                "    vm: { memoryGb: 2, cpu: 99 }",
                "  - username: bob",
                "    email: b@example.org",
                "    fullName: B",
                "    gatewayName: shared1",
            ),
        );
        expect(problems).toEqual([
            'users/users.yaml:3:12: user "alice": email: "nope" is not an email address (name@example.org)',
            'users/users.yaml:6:15: user "alice": services: the selection needs 6016 MB (proc 64 + router 64 + proxy 128 + cockpit 128 + embedder 1024 + books 512 + callup 512 + agents 1024 + voice 1024, plus 1536 MB for the OS) but the VM has 2048 MB (drop optional services or raise vm.memoryGb)',
            'users/users.yaml:7:29: user "alice": vm.cpu: 99 is too large (1 to 32, whole)',
            'users/users.yaml:11:18: user "bob": gatewayName: "shared1" is already used by user "alice" (line 2; set a distinct gatewayName)',
        ]);
    });

    it("names the file as the config gave it when it cannot be read", () => {
        expect(() => loadUsersFile("/nonexistent/users.yaml", { ...opts, displayPath: "/nonexistent/users.yaml" })).toThrow(
            "/nonexistent/users.yaml:1:1: cannot read the users file: no such file",
        );
    });
});

describe("users file: anchors and aliases", () => {
    const many = (n: number, anchorAt: "top" | "first") => {
        const lines = anchorAt === "top" ? ["x-sizes:", "  big: &big { memoryGb: 16, cpu: 8 }", "users:"] : ["users:"];
        for (let i = 0; i < n; i++) {
            const vm = anchorAt === "first" && i === 0 ? "&big { memoryGb: 16, cpu: 8 }" : "*big";
            lines.push(`  - username: u${i}`, `    email: u${i}@example.org`, "    fullName: U", `    vm: ${vm}`);
        }
        return file(...lines);
    };

    it("regression: 100 and 5,000 users sharing vm: *big load (yaml's alias count refused 100)", () => {
        expect(parseUsersFile(many(100, "first"), opts).users[99].vm).toEqual({ memoryMb: 16384, cpu: 8, diskGb: 50, node: undefined });
        const loaded = parseUsersFile(many(5000, "top"), opts);
        expect(loaded.users).toHaveLength(5000);
        expect(loaded.users[4999].vm.memoryMb).toBe(16384);
    });

    it("an undefined alias is a positioned problem (regression: a ReferenceError with a stack trace)", () => {
        expect(problemsOf(file("users:", ...alice, "    vm: *nope"))).toEqual([
            'users/users.yaml:5:9: user "alice": vm: *nope has no anchor &nope before it (define the anchor before its first use)',
        ]);
    });

    it("an alias inside its own anchor is a positioned problem, not an endless structure", () => {
        expect(problemsOf(file("users:", "  - &me", "    username: alice", "    email: a@example.org", "    fullName: A", "    vm: *me"))).toEqual([
            'users/users.yaml:6:9: user "alice": vm: *me is inside its own anchor &me (an alias cannot contain itself)',
        ]);
    });

    it("an alias bomb is stopped by the bound on expanded values, as a positioned problem", () => {
        const levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
        for (const [name, prev] of [["b", "a"], ["c", "b"], ["d", "c"], ["e", "d"], ["f", "e"], ["g", "f"], ["h", "g"]]) {
            levels.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(", ")}]`);
        }
        expect(problemsOf(file(...levels.map((l) => `x-${l}`), "users: []"))).toEqual([
            "users/users.yaml:6:38: x-f[7]: *e: the file expands to more than 1,000,000 values through aliases here (at most 1,000,000; each alias repeats its anchor's whole value)",
        ]);
    });
});

describe("users file: limits on the file itself", () => {
    it("refuses a file over 5 MB, naming the limit, before parsing it", () => {
        const big = file("users: []", `# ${"x".repeat(5 * 1024 * 1024)}`);
        expect(problemsOf(big)).toEqual(["users/users.yaml:1:1: the file is 5 MB (at most 5 MB; split the users into cohorts, one stack and users file each)"]);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "users-big-"));
        fs.writeFileSync(path.join(dir, "users.yaml"), big + "x".repeat(200_000));
        expect(() => loadUsersFile(path.join(dir, "users.yaml"), opts)).toThrow("users/users.yaml:1:1: the file is 5.2 MB (at most 5 MB;");
    });

    it("refuses more than 5,000 users, naming the limit", () => {
        const lines = ["users:"];
        for (let i = 0; i < 5001; i++) lines.push(`  - { username: u${i}, email: u${i}@example.org, fullName: U }`);
        expect(problemsOf(file(...lines))).toEqual(["users/users.yaml:2:3: users: lists 5001 users (at most 5000 in one file; split them into cohorts, one stack and users file each)"]);
    });

    it("warns above 100 users to deploy in one stack (the bench figures), and not at 100", () => {
        const users = (n: number) => file("users:", ...Array.from({ length: n }, (_, i) => `  - { username: u${i}, email: u${i}@example.org, fullName: U }`));
        expect(parseUsersFile(users(100), opts).warnings).toEqual([]);
        expect(parseUsersFile(users(101), opts).warnings).toEqual([
            "users/users.yaml: 101 users to deploy in one stack; above 100 a stack gets slow (measured: 9 s and 0.4 GB to evaluate 100 users, 108 s and 1.3 GB for 1,000). Split the users into cohorts, one stack and users file each (docs/figures.md)",
        ]);
    });

    it("lists at most 200 problems in the message, then counts the rest (regression: 10,000 bad users gave 3.2 MB)", () => {
        const lines = ["users:"];
        for (let i = 0; i < 5000; i++) lines.push(`  - { username: u${i}, email: nope${i}, fullName: U }`);
        let err: UsersFileError | undefined;
        try {
            parseUsersFile(file(...lines), opts);
        } catch (e) {
            err = e as UsersFileError;
        }
        expect(err!.problems).toHaveLength(5000);
        const shown = err!.message.split("\n");
        expect(shown[0]).toBe("users/users.yaml has 5000 problems; nothing was deployed:");
        expect(shown.slice(1, 201)).toEqual(err!.problems.slice(0, 200));
        expect(shown[201]).toBe("... and 4800 more problems (fix these first, or run again to see them)");
        expect(shown).toHaveLength(202);
        expect(err!.message.length).toBeLessThan(30_000);
    });
});

describe("users/schema.json", () => {
    it("equals the JSON Schema generated from the zod schema (run `npm run schema` after changing it)", () => {
        const onDisk = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "users", "schema.json"), "utf8"));
        expect(onDisk).toEqual(usersJsonSchema());
    });
});
