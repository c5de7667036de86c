/**
 * One source of limits: every limit in users/limits.ts and users/ssh-key.ts is
 * refused by the users file AND by the provider check that would otherwise
 * refuse it later (ForgeAccount, Vm, Gateway), with the same message.
 */
import { describe, expect, it } from "vitest";
import { parseUsersFile, UsersFileError } from "../users/load";
import * as limits from "../users/limits";
import { checkForgeAccount } from "../providers/forge/account";
import { checkVm } from "../providers/compute/vm";
import { checkGateway } from "../providers/compute/gateway";
import { PUBLIC_KEYS } from "./support/ssh-keys";

const opts = { displayPath: "users.yaml", namePrefix: "dev", today: "2026-11-24" };

/** The message of the one problem the users file reports for alice with `extra` fields, after `user "alice": <field>: `. */
function fileMessage(field: string, fields: Record<string, string>): string {
    const base: Record<string, string> = { username: "alice", email: "alice@example.org", fullName: "Alice", ...fields };
    const text = ["users:", ...Object.entries(base).map(([k, v], i) => `${i === 0 ? "  - " : "    "}${k}: ${v}`)].join("\n") + "\n";
    try {
        parseUsersFile(text, opts);
    } catch (err) {
        const problems = (err as UsersFileError).problems;
        if (!problems) throw err;
        expect(problems, problems.join("\n")).toHaveLength(1);
        const m = /^users\.yaml:\d+:\d+: user "[^"]*": ([^:]+): (.*)$/.exec(problems[0]);
        expect(m, problems[0]).not.toBeNull();
        expect(m![1]).toBe(field);
        return m![2]!;
    }
    throw new Error(`the users file accepted ${JSON.stringify(fields)}`);
}

const forge = (over: Record<string, unknown>, property: string) =>
    checkForgeAccount({ username: "alice", email: "alice@example.org", fullName: "Alice", password: "pw-12345678", feedbackRepo: "o/r", ...over }).failures?.find((f) => f.property === property)?.reason;
const vmInputs = { name: "devalice", username: "alice", memoryMb: 8192, cpu: 4, diskGb: 50, sshKeys: [PUBLIC_KEYS.ed25519] };
const vm = (over: Record<string, unknown>, property: string) => checkVm({ ...vmInputs, ...over }).failures.find((f) => f.property === property)?.reason;
const gateway = (name: string) => checkGateway({ name, username: "alice", backend: "http://[5a3::7]:9997" }).failures.find((f) => f.property === "name")?.reason;

/** Values just outside a range: below, above, and a fraction when it asks for whole numbers. */
function outside(r: limits.Range): number[] {
    return [r.whole ? r.min - 1 : r.min / 2, r.max + 1, ...(r.whole ? [r.min + 0.5] : [])];
}

const ranges: Array<[string, limits.Range, string, (v: number) => string | undefined]> = [
    ["memory", limits.MEMORY_GB, "vm.memoryGb", (v) => vm({ memoryMb: Math.round(v * 1024) }, "memoryMb")],
    ["cpu", limits.CPU, "vm.cpu", (v) => vm({ cpu: v }, "cpu")],
    ["disk", limits.DISK_GB, "vm.diskGb", (v) => vm({ diskGb: v }, "diskGb")],
    ["node", limits.NODE_ID, "vm.node", (v) => vm({ node: v }, "node")],
];

describe("every range limit: the users file and the Vm check refuse the same values with the same message", () => {
    for (const [name, range, field, provider] of ranges) {
        for (const v of outside(range)) {
            it(`${name} ${v}`, () => {
                const key = field.split(".")[1];
                const message = fileMessage(field, { vm: `{ ${key}: ${v} }` });
                expect(message).toBe(limits.rangeProblem(range, v));
                expect(provider(v)).toBe(message);
            });
        }
        it(`${name}: the bounds themselves are allowed at both layers`, () => {
            for (const v of [range.min, range.max]) {
                expect(limits.rangeProblem(range, v)).toBeUndefined();
                expect(provider(v)).toBeUndefined();
            }
        });
    }
});

describe("every text limit: the users file and the provider check refuse the same values with the same message", () => {
    const long = (n: number) => "x".repeat(n);
    const cases: Array<[string, string, string, () => string | undefined]> = [
        ["username over 40 characters", "username", long(41), () => forge({ username: long(41) }, "username")],
        ["username with a doubled dot", "username", "al..ice", () => forge({ username: "al..ice" }, "username")],
        ["a reserved username", "username", "forgejo-actions", () => forge({ username: "forgejo-actions" }, "username")],
        ["a reserved pattern", "username", "bob.keys", () => forge({ username: "bob.keys" }, "username")],
        ["email over 254 characters", "email", `${long(243)}@example.org`, () => forge({ email: `${long(243)}@example.org` }, "email")],
        ["email without a domain", "email", "alice@", () => forge({ email: "alice@" }, "email")],
        ["fullName over 100 characters", "fullName", long(101), () => forge({ fullName: long(101) }, "fullName")],
        ["empty fullName", "fullName", '""', () => forge({ fullName: "" }, "fullName")],
        ["gatewayName not a grid name", "gatewayName", "Demo_1", () => gateway("Demo_1")],
        ["gatewayName too short", "gatewayName", "ab", () => gateway("ab")],
    ];
    for (const [name, field, value, provider] of cases) {
        it(name, () => {
            const message = fileMessage(field, { [field]: value });
            expect(provider()).toBe(message);
        });
    }

    it("a username whose grid name is too long: the file names the grid's words, which the Vm and Gateway checks use", () => {
        const username = "a".repeat(34);
        const message = fileMessage("username", { username });
        const grid = `dev${username}`;
        expect(message).toContain(vm({ name: grid }, "name")!);
        expect(message).toContain(gateway(grid)!);
    });
});

describe("SSH keys: the users file and the Vm check refuse the same keys with the same message", () => {
    const [type, blob] = PUBLIC_KEYS.ed25519.split(" ");
    const keys: Array<[string, string]> = [
        ["truncated", `${type} ${blob.slice(0, -4)}`],
        ["cut mid-base64", `${type} ${blob.slice(0, -1)}`],
        ["RSA 1024", PUBLIC_KEYS.rsa1024],
        ["DSA", PUBLIC_KEYS.dsa],
        ["a lying type", `ssh-ed25519 ${PUBLIC_KEYS.rsa2048.split(" ")[1]}`],
        ["not a key", "hello"],
    ];
    for (const [name, key] of keys) {
        it(name, () => {
            const message = fileMessage("sshKeys[0]", { sshKeys: JSON.stringify([key]) });
            expect(vm({ sshKeys: [PUBLIC_KEYS.ed25519, key] }, "sshKeys")).toBe(message);
        });
    }
});
