/**
 * The SSH public key check against OpenSSH's own parser: every line it accepts,
 * `ssh-keygen -l` accepts, and every line `ssh-keygen -l` refuses, it refuses.
 * Beyond that it refuses by policy what ssh-keygen still reads: RSA under
 * 2048 bits, and DSA.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { abbreviateKey, keyIdentity, sshKeyProblem } from "../users/ssh-key";
import { PUBLIC_KEYS } from "./support/ssh-keys";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ssh-key-test-"));

/** Whether `ssh-keygen -l` reads the line as a public key. */
function keygenAccepts(line: string): boolean {
    const file = path.join(dir, "k.pub");
    fs.writeFileSync(file, `${line}\n`);
    try {
        execFileSync("ssh-keygen", ["-l", "-f", file], { stdio: "pipe" });
        return true;
    } catch {
        return false;
    }
}

const wire = (...parts: Buffer[]) => Buffer.concat(parts.flatMap((p) => [Buffer.from([0, 0, 0, 0].map((_, i) => (p.length >>> (24 - 8 * i)) & 255)), p]));
const [edType, edBlob] = PUBLIC_KEYS.ed25519.split(" ");
const edBytes = Buffer.from(edBlob, "base64");

const good = [PUBLIC_KEYS.ed25519, PUBLIC_KEYS.rsa2048, PUBLIC_KEYS.ecdsa256, PUBLIC_KEYS.ecdsa384, PUBLIC_KEYS.ecdsa521, `${edType} ${edBlob}`];
const bad: Array<[string, string]> = [
    ["truncated by 4 characters", `${edType} ${edBlob.slice(0, -4)}`],
    ["cut mid-base64", `${edType} ${edBlob.slice(0, -1)}`],
    ["a byte after the key", `${edType} ${Buffer.concat([edBytes, Buffer.from([0])]).toString("base64")}`],
    ["an ed25519 key of 31 bytes", `${edType} ${wire(Buffer.from("ssh-ed25519"), Buffer.alloc(31, 7)).toString("base64")}`],
    ["the prefix says ed25519, the blob RSA", `ssh-ed25519 ${PUBLIC_KEYS.rsa2048.split(" ")[1]}`],
    ["an ecdsa key with the wrong curve inside", `ecdsa-sha2-nistp384 ${PUBLIC_KEYS.ecdsa256.split(" ")[1]}`],
    ["no blob", "ssh-ed25519"],
    ["not base64", "ssh-ed25519 !!!!"],
];

describe("SSH public keys, as OpenSSH reads them", () => {
    it("accepts what ssh-keygen accepts: ed25519, RSA 2048, ECDSA 256/384/521, with or without a comment", () => {
        for (const line of good) {
            expect(keygenAccepts(line), line).toBe(true);
            expect(sshKeyProblem(line), line).toBeUndefined();
        }
    });

    for (const [name, line] of bad) {
        it(`refuses what ssh-keygen refuses: ${name}`, () => {
            expect(keygenAccepts(line)).toBe(false);
            expect(sshKeyProblem(line)).toBeDefined();
        });
    }

    it("refuses by policy what ssh-keygen still reads: RSA 1024 and DSA", () => {
        expect(keygenAccepts(PUBLIC_KEYS.rsa1024)).toBe(true);
        expect(keygenAccepts(PUBLIC_KEYS.dsa)).toBe(true);
        expect(sshKeyProblem(PUBLIC_KEYS.rsa1024)).toBe('"ssh-rsa AAAAB3NzaC1y..." is an RSA key of 1024 bits, too weak (RSA 2048 bits or more, or ssh-ed25519)');
        expect(sshKeyProblem(PUBLIC_KEYS.dsa)).toBe('"ssh-dss AAAAB3NzaC1k..." is a DSA key, which OpenSSH no longer accepts (ssh-ed25519, ecdsa, or ssh-rsa of 2048 bits or more)');
    });

    it("names a key by its type and the start of its blob only, and compares keys ignoring the comment", () => {
        expect(abbreviateKey(PUBLIC_KEYS.ed25519)).toBe('"ssh-ed25519 AAAAC3NzaC1l..."');
        expect(keyIdentity(`${PUBLIC_KEYS.ed25519.split(" ").slice(0, 2).join(" ")} other comment`)).toBe(keyIdentity(PUBLIC_KEYS.ed25519));
    });
});
