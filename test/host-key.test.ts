/**
 * The host-key pin's pure parts: parsing what the VM prints, OpenSSH fingerprints,
 * the mismatch message, and the script both host-key steps send, run under bash in
 * a throwaway root (no SSH: the SSH path is in the rehearsal, rehearsal-host-key.test.ts).
 */
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, describe, expect, it } from "vitest";
import { compactScript, hostKeyChangedMessage, hostKeyCheckStdin, hostKeyFingerprint, hostKeyStdin, HostKeyFormatError, parseHostKey, stepsDigest, type HostKeyMismatch } from "../components/host-key";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "host-key-test-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A fresh ED25519 key pair made by ssh-keygen; returns the .pub line and its file. */
function keygen(name: string, type = "ed25519"): { line: string; file: string } {
    const file = path.join(tmp, name);
    execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-C", `root@${name}`, "-f", file]);
    return { line: fs.readFileSync(`${file}.pub`, "utf8"), file: `${file}.pub` };
}

/** A fake VM root with `key` as its /etc/ssh/ssh_host_ed25519_key.pub. */
function vmRoot(name: string, keyLine?: string): string {
    const root = path.join(tmp, `root-${name}`);
    fs.mkdirSync(path.join(root, "etc", "ssh"), { recursive: true });
    if (keyLine !== undefined) fs.writeFileSync(path.join(root, "etc", "ssh", "ssh_host_ed25519_key.pub"), keyLine);
    return root;
}

function runScript(stdin: string): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync("bash", ["-s", "--", "host-key"], { input: stdin, encoding: "utf8", env: { PATH: process.env.PATH } });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const mismatch = (pinned: string): HostKeyMismatch => ({ username: "alice", vmName: "devalice", vmId: "005o", host: "400:1234::5", pinned, seen: "@SEEN@", pinUrn: "urn:pulumi:dev::p::x::alice-host-key" });

describe("parseHostKey", () => {
    const a = keygen("a");
    const pinned = a.line.trim().split(" ").slice(0, 2).join(" ");

    it("takes the last line, drops the comment, keeps type and key", () => {
        expect(parseHostKey("alice", `some noise\n${a.line}\n\n`)).toBe(pinned);
        expect(parseHostKey("alice", pinned)).toBe(pinned);
    });

    it("refuses an empty output, a non-key line, an RSA key and a blob that is not ED25519, naming the user", () => {
        const rsa = keygen("r", "rsa").line;
        const lying = `ssh-ed25519 ${rsa.split(" ")[1]}`;
        for (const bad of ["", "hello", rsa, lying, "ssh-ed25519 AAAA"]) {
            expect(() => parseHostKey("alice", bad), JSON.stringify(bad)).toThrow(HostKeyFormatError);
        }
        expect(() => parseHostKey("alice", "")).toThrow(/^alice: the VM's host-key step printed nothing, not an ED25519 public key line/);
    });

    it("fingerprints a key exactly as ssh-keygen -l does", () => {
        const sshKeygen = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", a.file], { encoding: "utf8" }).split(" ")[1];
        expect(hostKeyFingerprint(pinned)).toBe(sshKeygen);
    });
});

describe("the mismatch message", () => {
    it("names the user, the VM, its id and address, the pinned fingerprint, what to check and how to re-pin", () => {
        const k = keygen("m").line;
        const msg = hostKeyChangedMessage({ ...mismatch(parseHostKey("alice", k)), seen: "SHA256:new" });
        expect(msg).toContain("the SSH host key of alice's VM devalice (vm 005o at 400:1234::5) has changed");
        expect(msg).toContain(`pinned at this tool's first connection ${hostKeyFingerprint(k)}, the VM now has SHA256:new.`);
        expect(msg).toContain("Check on Hero Compute that vm 005o is still devalice");
        expect(msg).toContain("pulumi up --replace 'urn:pulumi:dev::p::x::alice-host-key'");
        expect(msg).toContain("do not re-pin");
    });
});

describe("the host-key script, as sent", () => {
    const a = keygen("va");
    const b = keygen("vb");
    const keyA = parseHostKey("alice", a.line);

    it("prints the VM's own ED25519 host key as one line", () => {
        const r = runScript(hostKeyStdin(vmRoot("learn", a.line), 5));
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        expect(r.stdout).toBe(`${keyA}\n`);
    });

    it("with the pin: passes when the VM still has it, and fails with the message and the new fingerprint when not", () => {
        const same = runScript(hostKeyCheckStdin(vmRoot("same", a.line), mismatch(keyA)));
        expect(same.status).toBe(0);
        expect(same.stdout).toBe(`${keyA}\n`);
        const changed = runScript(hostKeyCheckStdin(vmRoot("changed", b.line), mismatch(keyA)));
        expect(changed.status).toBe(1);
        expect(changed.stdout).toBe("");
        expect(changed.stderr).toBe(`host-key: FAILED: ${hostKeyChangedMessage({ ...mismatch(keyA), seen: hostKeyFingerprint(b.line) })}\n`);
    });

    it("fails clearly when the VM has no ED25519 host key: the learning step says so, the check gives its mismatch message", () => {
        const r = runScript(hostKeyStdin(vmRoot("none"), 5));
        expect(r.status).toBe(1);
        expect(r.stderr).toMatch(/^host-key: FAILED: the VM has no ED25519 SSH host key \(.*\/etc\/ssh\/ssh_host_ed25519_key.pub is missing or empty\)/);
        const check = runScript(hostKeyCheckStdin(vmRoot("none-check"), mismatch(keyA)));
        expect(check.status).toBe(1);
        expect(check.stdout).toBe("");
        expect(check.stderr).toBe(`host-key: FAILED: ${hostKeyChangedMessage({ ...mismatch(keyA), seen: "no ED25519 host key" })}\n`);
    });

    it("the check does not wait for cloud-init (the learning step did, before the pin)", () => {
        const root = vmRoot("check-cloud", a.line);
        fs.mkdirSync(path.join(root, "var", "lib", "cloud", "instance"), { recursive: true });
        const r = runScript(hostKeyCheckStdin(root, mismatch(keyA)));
        expect(r.status).toBe(0);
        expect(r.stdout).toBe(`${keyA}\n`);
    });

    it("waits for cloud-init's boot-finished and gives up at its deadline", () => {
        const root = vmRoot("cloud", a.line);
        fs.mkdirSync(path.join(root, "var", "lib", "cloud", "instance"), { recursive: true });
        const r = runScript(hostKeyStdin(root, 0));
        expect(r.status).toBe(1);
        expect(r.stderr).toMatch(/cloud-init did not finish within 0s/);
        fs.writeFileSync(path.join(root, "var", "lib", "cloud", "instance", "boot-finished"), "");
        expect(runScript(hostKeyStdin(root, 0)).stdout).toBe(`${keyA}\n`);
    });

    it("quotes hostile values: a pin or message with quotes and $() is data, not code", () => {
        const root = vmRoot("hostile", a.line);
        const r = runScript(hostKeyCheckStdin(root, { ...mismatch("x'$(touch " + path.join(root, "pwned") + ")'"), vmName: "$(id)" }));
        expect(r.status).toBe(1);
        expect(fs.existsSync(path.join(root, "pwned"))).toBe(false);
        expect(r.stderr).toContain("VM $(id) (vm 005o");
    });
});

describe("compactScript: what of a script is sent on stdin", () => {
    it("drops comment lines and blank lines and keeps every other line as it was", () => {
        const text = "#!/usr/bin/env bash\n# about\nset -euo pipefail\n\n    # indented comment\nx='a # not a comment'\n  echo \"$x\" # trailing\n";
        expect(compactScript(text)).toBe("set -euo pipefail\nx='a # not a comment'\n  echo \"$x\" # trailing");
    });

    it("refuses a script with a heredoc, whose body a dropped line would change", () => {
        expect(() => compactScript("cat <<EOF\n# kept\nEOF\n")).toThrow(/heredoc/);
        expect(() => compactScript("cat <<-'EOF'\nx\nEOF\n")).toThrow(/heredoc/);
    });

    it("the host-key payloads carry none of host-key.sh's comments (they would sit in two resources' state per VM)", () => {
        for (const stdin of [hostKeyStdin("", 600), hostKeyCheckStdin("", mismatch("ssh-ed25519 AAAA"))]) {
            expect(stdin.split("\n").filter((l) => /^\s*#/.test(l) || l.trim() === "").length).toBe(1); // the final newline
            expect(stdin).not.toContain("HB_ROOT=");
        }
        expect(hostKeyStdin("/tmp/r", 5)).toContain("HB_ROOT='/tmp/r'");
    });
});

describe("stepsDigest", () => {
    it("is stable for equal input and differs for any change", () => {
        expect(stepsDigest({ a: [1, 2] })).toBe(stepsDigest({ a: [1, 2] }));
        expect(stepsDigest({ a: [1, 2] })).not.toBe(stepsDigest({ a: [1, 3] }));
        expect(stepsDigest({})).toMatch(/^[0-9a-f]{16}$/);
    });
});
