/**
 * The rehearsal engine itself, on a throwaway program (test/rehearsal/demo):
 * real dynamic-provider host, real ED25519 keys, real SSH to a local sshd.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ed25519Key, sshKeyFile } from "./engine/builtins";
import { loadState, saveState, type StateResource } from "./rehearsal/engine";
import { opsOf, rehearse, RunResult } from "./rehearsal/runner";
import { startSshd, Sshd } from "./rehearsal/sshd";

let sshd: Sshd;
let dir: string;
let stateFile: string;
const config = (extra: Record<string, string> = {}) => ({
    demoUsers: "alice,bob",
    demoDir: dir,
    markerDir: dir,
    sshPort: String(sshd.port),
    ...extra,
});
const up = (extra?: Record<string, string>) => rehearse("up", { program: "test/rehearsal/demo/program.ts", stateFile, config: config(extra) });
const journal = () => fs.readFileSync(path.join(dir, "journal"), "utf8").trim().split("\n");
const log = (user: string) => fs.readFileSync(path.join(dir, `${user}.log`), "utf8").trim().split("\n");
const changes = (r: RunResult) => r.ops.filter((o) => o.op !== "same");

beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "rehearsal-engine-"));
    stateFile = path.join(dir, "state.json");
    sshd = await startSshd([path.join(dir, "alice.pub"), path.join(dir, "bob.pub"), path.join(dir, "carol.pub")]);
});

afterAll(async () => {
    await sshd?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
});

// A bound, not a measure: whole rehearsal runs on 2 shared cores.
describe("rehearsal engine on a throwaway program", { timeout: 240_000 }, () => {
    it("creates through the dynamic host, with a real key, and runs the command over SSH with its environment", async () => {
        const r = await up();
        expect(r.errors).toEqual([]);
        expect(opsOf(r, "create").map((o) => o.name).sort()).toEqual(
            ["alice-cleanup", "alice-install", "alice-ssh-key", "alice-vm", "bob-cleanup", "bob-install", "bob-ssh-key", "bob-vm"],
        );
        expect(fs.readFileSync(path.join(dir, "alice.pub"), "utf8")).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\S+\n$/);
        expect(log("alice")).toEqual(["install alice v1"]);
        expect(r.outputs.stdout).toEqual({ alice: "done", bob: "done" });
        // Creates happen in dependency order: key, then file, then the command.
        const order = r.ops.filter((o) => o.name.startsWith("alice-")).map((o) => o.name);
        expect(order.indexOf("alice-ssh-key")).toBeLessThan(order.indexOf("alice-vm"));
        expect(order.indexOf("alice-vm")).toBeLessThan(order.indexOf("alice-install"));
    });

    it("a second run changes nothing and runs no command", async () => {
        const r = await up();
        expect(r.errors).toEqual([]);
        expect(changes(r)).toEqual([]);
        expect(r.commands).toEqual([]);
        expect(journal().filter((l) => !l.startsWith("create"))).toEqual([]);
    });

    it("a changed command updates in place; a changed trigger replaces (create, then the old copy's delete)", async () => {
        const updated = await up({ version: "2" });
        expect(changes(updated).map((o) => `${o.op} ${o.name}`).sort()).toEqual(["update alice-install", "update bob-install"]);
        expect(log("alice")).toEqual(["install alice v1", "install alice v2"]);
        const replaced = await up({ version: "2", trigger: "t2" });
        expect(changes(replaced).map((o) => `${o.op} ${o.name}`).sort()).toEqual([
            "delete alice-install", "delete bob-install", "replace alice-install", "replace bob-install",
        ]);
        expect(log("alice")).toEqual(["install alice v1", "install alice v2", "install alice v2", "uninstall alice"]);
    });

    it("preview makes no change anywhere: check and diff only", async () => {
        const before = fs.readFileSync(stateFile, "utf8");
        const r = await rehearse("preview", { program: "test/rehearsal/demo/program.ts", stateFile, config: config({ demoUsers: "alice,carol", version: "2", trigger: "t2" }) });
        expect(r.errors).toEqual([]);
        expect(opsOf(r, "create").map((o) => o.name).sort()).toEqual(["carol-cleanup", "carol-install", "carol-ssh-key", "carol-vm"]);
        expect(opsOf(r, "delete").map((o) => o.name)).toContain("bob-vm");
        expect(r.ops.every((o) => o.preview)).toBe(true);
        expect(r.commands).toEqual([]);
        expect(fs.existsSync(path.join(dir, "carol.pub"))).toBe(false);
        expect(fs.readFileSync(stateFile, "utf8")).toBe(before);
    });

    it("removing a user deletes its resources dependents-first and skips the deletedWith one", async () => {
        const r = await up({ demoUsers: "alice", version: "2", trigger: "t2" });
        expect(r.errors).toEqual([]);
        const bob = r.ops.filter((o) => o.name.startsWith("bob"));
        expect(bob.map((o) => `${o.op} ${o.name}`)).toEqual([
            "skip-delete bob-cleanup", "delete bob-install", "delete bob-vm", "delete bob-ssh-key", "delete bob",
        ]);
        expect(log("bob").at(-1)).toBe("uninstall bob");
        expect(log("bob")).not.toContain("cleanup must be skipped");
        expect(fs.existsSync(path.join(dir, "bob.pub"))).toBe(false);
        expect(changes(r).filter((o) => o.name.startsWith("alice"))).toEqual([]);
        const state = JSON.parse(fs.readFileSync(stateFile, "utf8"));
        expect(Object.keys(state.resources).filter((u) => u.includes("bob"))).toEqual([]);
    });

    it("a failed step stops the run, keeps what was done, and the next run converges", async () => {
        const failed = await up({ demoUsers: "alice,carol", version: "2", trigger: "t2", failUser: "carol" });
        expect(failed.ok).toBe(false);
        expect(failed.errors.join("\n")).toMatch(/carol-install.*Process exited with status 7/s);
        // carol-cleanup depends on carol-install: never started.
        expect(failed.ops.map((o) => o.name)).not.toContain("carol-cleanup");
        const fixed = await up({ demoUsers: "alice,carol", version: "2", trigger: "t2" });
        expect(fixed.errors).toEqual([]);
        expect(changes(fixed).map((o) => `${o.op} ${o.name}`).sort()).toEqual(["create carol-cleanup", "create carol-install"]);
        expect(journal().filter((l) => l === "create carol.pub")).toHaveLength(1);
    });

    it("a run writes its state file at the end and leaves no journal", () => {
        expect(fs.existsSync(`${stateFile}.journal`)).toBe(false);
        expect(Object.keys(loadState(stateFile).resources).length).toBeGreaterThan(0);
    });

    it("destroy deletes everything in state", async () => {
        const r = await rehearse("destroy", { program: "test/rehearsal/demo/program.ts", stateFile, config: config() });
        expect(r.errors).toEqual([]);
        expect(JSON.parse(fs.readFileSync(stateFile, "utf8")).resources).toEqual({});
        expect(journal().at(-1)).toMatch(/^delete (alice|carol)\.pub$/);
    });
});

describe("the connection key the imitated command provider logs in with", () => {
    const publicOf = (keyFile: string) => {
        const file = path.join(dir, "converted-key");
        fs.writeFileSync(file, keyFile, { mode: 0o600 });
        return execFileSync("ssh-keygen", ["-y", "-f", file], { encoding: "utf8" }).trim().split(" ").slice(0, 2).join(" ");
    };

    it("rewrites a PKCS#8 ED25519 key (what the program sends) as the same key in OpenSSH's format, which OpenSSH 9.2 reads", () => {
        const k = ed25519Key();
        const file = sshKeyFile(k.privateKeyPemPkcs8);
        expect(file).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
        expect(publicOf(file)).toBe(k.publicKeyOpenssh.trim());
    });

    it("passes an OpenSSH key through unchanged", () => {
        const k = ed25519Key();
        expect(sshKeyFile(k.privateKeyOpenssh)).toBe(k.privateKeyOpenssh);
        expect(publicOf(k.privateKeyOpenssh)).toBe(k.publicKeyOpenssh.trim());
    });
});

describe("the state journal of a run that died", () => {
    const rec = (name: string, v: number): StateResource => ({
        urn: `urn:pulumi:s::p::t::${name}`, type: "t", name, custom: true, id: `${name}-id`, inputs: { v, __provider: "PROVIDER TEXT" }, outputs: { v }, deps: [],
    });

    it("is replayed on load: saves and removals in order, providers by hash, a torn last line ignored", () => {
        const file = path.join(dir, "died.json");
        saveState(file, { resources: { [rec("a", 1).urn]: rec("a", 1), [rec("b", 1).urn]: rec("b", 1) } });
        const a2 = { ...rec("a", 2), inputs: { v: 2, __provider: "sha256:x" } };
        fs.writeFileSync(`${file}.journal`, [
            JSON.stringify({ provider: ["sha256:x", "PROVIDER TEXT 2"] }),
            JSON.stringify({ save: a2 }),
            JSON.stringify({ drop: rec("b", 1).urn }),
            JSON.stringify({ save: rec("c", 1) }).slice(0, 30),
        ].join("\n"));
        const state = loadState(file);
        expect(Object.keys(state.resources)).toEqual([rec("a", 1).urn]);
        expect(state.resources[rec("a", 1).urn].inputs).toEqual({ v: 2, __provider: "PROVIDER TEXT 2" });
    });
});
