import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { memoryNeededMb, resolveServices } from "../users/catalog";
import { loadUsersFile, parseUsersFile, UsersFileError } from "../users/load";
import { usersJsonSchema } from "../users/zod-schema";

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
                "    services: [voice, agents, voice]",
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

    it("the shipped users/users.yaml is valid and starts with the schema comment", () => {
        const shipped = path.join(__dirname, "..", "users", "users.yaml");
        expect(fs.readFileSync(shipped, "utf8").split("\n")[0]).toBe("# yaml-language-server: $schema=./schema.json");
        expect(loadUsersFile(shipped, opts).users.map((u) => u.username)).toEqual(["alice", "bob"]);
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
    it("a misspelt service gets a suggestion, and office is refused with the reason", () => {
        expect(problemsOf(file("users:", ...alice, "    services: [slides, ofice, office]"))).toEqual([
            'users/users.yaml:5:24: user "alice": services[1] "ofice" is not a service (did you mean "office"? office is not offered: too heavy for an 8 GB demo VM unless hosted elsewhere); choose from slides, whiteboard, callup, agents, voice',
            'users/users.yaml:5:31: user "alice": services[2] "office" is not offered: too heavy for an 8 GB demo VM unless hosted elsewhere',
        ]);
    });

    it("usernames are unique ignoring case, and emails are unique", () => {
        expect(problemsOf(file("users:", ...alice, "  - username: Alice", "    email: ALICE@example.org", "    fullName: A"))).toEqual([
            'users/users.yaml:5:15: user "Alice": username "Alice" is already used by user "alice" (line 2); usernames are unique ignoring case',
            'users/users.yaml:6:12: user "Alice": email "ALICE@example.org" is already used by user "alice" (line 2)',
        ]);
    });

    it("a username that Forgejo refuses, or that it reserves", () => {
        expect(problemsOf(file("users:", "  - username: al..ice", "    email: a@example.org", "    fullName: A"))).toEqual([
            'users/users.yaml:2:15: user "al..ice": username "al..ice" may hold only letters, digits and single - _ . between them',
        ]);
        expect(problemsOf(file("users:", "  - username: Admin", "    email: a@example.org", "    fullName: A"))).toEqual([
            'users/users.yaml:2:15: user "Admin": username "Admin" is reserved by Forgejo',
        ]);
    });

    it("a username too long for a grid name is refused, not truncated into a collision", () => {
        const long = "a".repeat(34);
        expect(problemsOf(file("users:", `  - username: ${long}`, "    email: a@example.org", "    fullName: A"))).toEqual([
            `users/users.yaml:2:15: user "${long}": username "${long}" gives the grid name "dev${long}", which must be 3 to 36 lowercase letters or digits; choose a shorter username or namePrefix`,
        ]);
    });

    it("two usernames that reduce to one grid name are refused (regression: a.b and ab would share a VM)", () => {
        expect(
            problemsOf(file("users:", "  - username: a.b", "    email: a@example.org", "    fullName: A", "  - username: ab", "    email: b@example.org", "    fullName: B")),
        ).toEqual([
            'users/users.yaml:5:15: user "ab": username "ab" gives the grid name "devab", which user "a.b" (line 2) already gives; usernames must differ in their letters and digits',
        ]);
    });

    it("a gateway name used twice is refused", () => {
        expect(
            problemsOf(file("users:", ...alice, "    gatewayName: demo1", "  - username: bob", "    email: b@example.org", "    fullName: B", "    gatewayName: demo1")),
        ).toEqual(['users/users.yaml:9:18: user "bob": gatewayName gives the gateway name "demo1", already used by user "alice" (line 2); set a distinct gatewayName']);
        expect(problemsOf(file("users:", ...alice, "    gatewayName: Demo_1"))).toEqual([
            'users/users.yaml:5:18: user "alice": gatewayName "Demo_1" must be 3 to 36 lowercase letters or digits',
        ]);
    });

    it("bad email and bad date", () => {
        expect(problemsOf(file("users:", "  - username: alice", "    email: alice-at-example", "    fullName: A", "    expires: 2026-02-30"))).toEqual([
            'users/users.yaml:3:12: user "alice": email "alice-at-example" is not an email address',
            'users/users.yaml:5:14: user "alice": expires "2026-02-30" is not a date (write YYYY-MM-DD)',
        ]);
    });

    it("memory and cpu outside the grid's limits", () => {
        expect(problemsOf(file("defaults:", "  vm: { cpu: 0 }", "users:", ...alice, "    vm: { memoryGb: 300, cpu: 33 }"))).toEqual([
            "users/users.yaml:2:14: defaults: vm.cpu 0 is outside the grid's limits for virtual CPUs (1 to 32, whole)",
            `users/users.yaml:7:21: user "alice": vm.memoryGb 300 is outside the grid's limits for memory in GB (0.25 to 256)`,
            `users/users.yaml:7:31: user "alice": vm.cpu 33 is outside the grid's limits for virtual CPUs (1 to 32, whole)`,
        ]);
    });

    it("a selection that does not fit the VM's memory names the figures", () => {
        expect(problemsOf(file("users:", ...alice, "    services: [agents, voice]", "    vm: { memoryGb: 4 }"))).toEqual([
            'users/users.yaml:5:15: user "alice": services need 5504 MB (proc 64 + router 64 + proxy 128 + cockpit 128 + embedder 1024 + books 512 + agents 1024 + voice 1024, plus 1536 MB for the OS) but the VM has 4096 MB; drop optional services or raise vm.memoryGb',
        ]);
    });

    it("an SSH key that does not parse", () => {
        // The blob names ssh-rsa while the line says ssh-ed25519.
        const lying = `ssh-ed25519 ${Buffer.from("\u0000\u0000\u0000\u0007ssh-rsa").toString("base64")}`;
        expect(problemsOf(file("users:", ...alice, `    sshKeys: ["${KEY}", "${lying}", "hello"]`))).toEqual([
            `users/users.yaml:5:${15 + KEY.length + 4}: user "alice": sshKeys[1] "ssh-ed25519 AAAAB3Nz..." is not an OpenSSH public key (ssh-ed25519, ssh-rsa or ecdsa)`,
            `users/users.yaml:5:${15 + KEY.length + 4 + lying.length + 4}: user "alice": sshKeys[2] "hello" is not an OpenSSH public key (ssh-ed25519, ssh-rsa or ecdsa)`,
        ]);
    });

    it("unknown fields are refused, with a suggestion", () => {
        expect(problemsOf(file("defaults:", "  service: [slides]", "users:", ...alice, "    fullname: typo"))).toEqual([
            'users/users.yaml:2:3: defaults: service is not a known field (did you mean "services"?)',
            'users/users.yaml:7:5: user "alice": fullname is not a known field (did you mean "fullName"?)',
        ]);
    });

    it("missing fields, and a users list that is not a list", () => {
        expect(problemsOf(file("users:", "  - username: alice"))).toEqual([
            'users/users.yaml:2:5: user "alice": email is required',
            'users/users.yaml:2:5: user "alice": fullName is required',
        ]);
        expect(problemsOf(file("users: alice"))).toEqual(["users/users.yaml:1:8: users: invalid input: expected array, received string"]);
        expect(problemsOf(file("# nothing here"))).toEqual(["users/users.yaml:1:1: users is required"]);
    });

    it("YAML syntax errors get the same file:line form", () => {
        expect(problemsOf(file("users:", "  - username: alice", "    email: [unclosed"))).toEqual([
            expect.stringMatching(/^users\/users\.yaml:4:1: YAML syntax: /),
        ]);
        expect(problemsOf(file("users:", ...alice, "    email: again@example.org"))).toEqual([
            "users/users.yaml:5:5: YAML syntax: Map keys must be unique",
        ]);
    });

    it("reports every problem at once, in file order", () => {
        const problems = problemsOf(
            file("users:", "  - username: alice", "    email: nope", "    fullName: A", ...alice.map((l) => l.replace("alice@", "alice2@")), "    services: [ofice]"),
        );
        expect(problems.map((p) => p.split(": ")[0])).toEqual(["users/users.yaml:3:12", "users/users.yaml:5:15", "users/users.yaml:8:16"]);
    });

    it("names the file as the config gave it when it cannot be read", () => {
        expect(() => loadUsersFile("/nonexistent/users.yaml", { ...opts, displayPath: "/nonexistent/users.yaml" })).toThrow(
            "/nonexistent/users.yaml: cannot read the users file: no such file",
        );
    });
});

describe("users/schema.json", () => {
    it("equals the JSON Schema generated from the zod schema (run `npm run schema` after changing it)", () => {
        const onDisk = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "users", "schema.json"), "utf8"));
        expect(onDisk).toEqual(usersJsonSchema());
    });
});
