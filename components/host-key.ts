/**
 * The VM's SSH host key, pinned. Hero Compute's contract offers no authenticated
 * channel to the VM (no `vm_exec`, no console), so the key is trusted on first use
 * and then held, for every later step and every later `pulumi up`:
 *
 * - `<user>-host-key` runs once per VM: its only trigger is the VM's identity, and
 *   its connection and stdin are `ignoreChanges`, so nothing but a new VM (or
 *   `pulumi up --replace` on it) runs it again. It prints the VM's own
 *   `/etc/ssh/ssh_host_ed25519_key.pub`; that stdout, in state, is the pin.
 * - `<user>-host-key-check` runs whenever any bootstrap step is about to run (its
 *   trigger is a digest of everything those steps send) and prints the key again.
 *   A different key fails it with `hostKeyChangedMessage` (the VM, both
 *   fingerprints, what to check), so no later step starts. It is sent no secret.
 * - every bootstrap step connects with `connection.hostKey` set to the pin
 *   (`stepConnection`), so the command provider itself refuses any other key.
 *
 * Pure helpers (parsing, fingerprints, the comparison, the digest) are exported and
 * unit-tested; the Pulumi wiring is `createHostKeyPin`.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { remote, types } from "@pulumi/command";
import { childName } from "./naming";
import { renderAssignments } from "./render";

/** The key type pinned: every supported VM image has one, and it is what `tls` keys use. */
export const HOST_KEY_TYPE = "ssh-ed25519";

/** The one command both host-key steps run: constant, no parameters. */
export const HOST_KEY_COMMAND = "bash -s -- host-key";

const SCRIPT = path.join(__dirname, "scripts", "host-key.sh");
const CHECK_SCRIPT = path.join(__dirname, "scripts", "host-key-check.sh");

/** A host key line that is not an ED25519 public key. */
export class HostKeyFormatError extends pulumi.RunError {
    constructor(username: string, what: string) {
        super(`${username}: the VM's host-key step printed ${what}, not an ED25519 public key line ("ssh-ed25519 AAAA…"). Check /etc/ssh/ssh_host_ed25519_key.pub on the VM.`);
        this.name = "HostKeyFormatError";
    }
}

/** What the check needs to say which VM changed its key, and how to re-pin. */
export interface HostKeyMismatch {
    username: string;
    /** The VM's grid name, e.g. `devalice`. */
    vmName: string;
    vmId: string;
    host: string;
    pinned: string;
    /** The fingerprint the VM now reports; the check step fills in "@SEEN@". */
    seen: string;
    /** URN of the `<user>-host-key` step, for the re-pin command. */
    pinUrn: string;
}

/** The check's failure: which VM, both fingerprints, what to check, how to re-pin. */
export function hostKeyChangedMessage(m: HostKeyMismatch): string {
    return [
        `the SSH host key of ${m.username}'s VM ${m.vmName} (vm ${m.vmId} at ${m.host}) has changed:`,
        `pinned at this tool's first connection ${hostKeyFingerprint(m.pinned)}, the VM now has ${m.seen}.`,
        `No later bootstrap step ran and nothing secret was sent.`,
        `Check on Hero Compute that vm ${m.vmId} is still ${m.vmName} and whether it was redeployed or its SSH host keys regenerated.`,
        `If so, pin the new key: pulumi up --replace '${m.pinUrn}'.`,
        `If not, someone may be intercepting SSH to ${m.host}: do not re-pin; check the mycelium route to the VM.`,
    ].join(" ");
}

/**
 * The host key a host-key step printed: its last non-empty line, as
 * `ssh-ed25519 <base64>` (a comment, if any, dropped). Throws HostKeyFormatError.
 */
export function parseHostKey(username: string, stdout: string): string {
    const line = stdout.split("\n").map((l) => l.trim()).filter((l) => l !== "").pop() ?? "";
    const m = /^(\S+) ([A-Za-z0-9+/]+={0,2})(?: .*)?$/.exec(line);
    if (!m) throw new HostKeyFormatError(username, line === "" ? "nothing" : JSON.stringify(line.slice(0, 80)));
    const [, type, b64] = m;
    const blob = Buffer.from(b64, "base64");
    // The blob starts with its own type string: "ssh-ed25519" then the 32-byte key.
    const n = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
    const inner = n > 0 && blob.length >= 4 + n ? blob.subarray(4, 4 + n).toString("latin1") : "";
    if (type !== HOST_KEY_TYPE || inner !== HOST_KEY_TYPE || blob.length !== 4 + n + 4 + 32) {
        throw new HostKeyFormatError(username, `a ${type} key`);
    }
    return `${type} ${b64}`;
}

/** OpenSSH's fingerprint of a key line: `SHA256:<base64 of sha256(blob)>`, unpadded. */
export function hostKeyFingerprint(keyLine: string): string {
    const b64 = keyLine.trim().split(/\s+/)[1] ?? "";
    return `SHA256:${crypto.createHash("sha256").update(Buffer.from(b64, "base64")).digest("base64").replace(/=+$/, "")}`;
}

/** A short digest of what the bootstrap steps are about to send: the check's trigger. */
export function stepsDigest(parts: unknown): string {
    return crypto.createHash("sha256").update(JSON.stringify(parts)).digest("hex").slice(0, 16);
}

/**
 * A script as sent on stdin: without its comment lines and blank lines, which would
 * otherwise sit in the state of every resource that sends it. Only for scripts with no
 * heredoc (whose body a dropped line would change); it throws on one.
 */
export function compactScript(text: string): string {
    if (/<<-?\s*['"]?[A-Za-z_]/.test(text)) throw new Error("compactScript: the script has a heredoc; its lines cannot be dropped safely");
    return text
        .split("\n")
        .filter((line) => !/^\s*(#.*)?$/.test(line))
        .join("\n");
}

/** What the learning step sends on stdin: its parameters, then host-key.sh (it waits for cloud-init). */
export function hostKeyStdin(root: string, readyTimeoutSec: number): string {
    return sendScript(SCRIPT, root, { HB_READY_TIMEOUT: String(readyTimeoutSec) });
}

/**
 * What the check sends on stdin: the pin, the mismatch message, then host-key-check.sh,
 * which only compares (no cloud-init wait): it is re-sent, and stored, at every change of
 * the later steps, so it is kept to what it needs.
 */
export function hostKeyCheckStdin(root: string, check: HostKeyMismatch): string {
    return sendScript(CHECK_SCRIPT, root, { HB_PINNED: check.pinned, HB_MISMATCH: hostKeyChangedMessage({ ...check, seen: "@SEEN@" }) });
}

/** Parameters, then the compacted script, as one block read whole before it runs. */
function sendScript(file: string, root: string, params: Record<string, string>): string {
    // HB_ROOT only when set (tests): on a VM it is empty, and the scripts default it so.
    const all = { ...(root ? { HB_ROOT: root } : {}), ...params };
    return ["{", renderAssignments(all), compactScript(fs.readFileSync(file, "utf8")), "} </dev/null", ""].join("\n");
}

/**
 * The connection of a bootstrap step: the shared one, with the pinned host key.
 * Every step (and any later remote resource on the VM) builds its connection here.
 */
export function stepConnection(base: types.input.remote.ConnectionArgs, hostKey: pulumi.Input<string>): types.input.remote.ConnectionArgs {
    return { ...base, hostKey };
}

export interface HostKeyPinArgs {
    username: string;
    /** The VM resource: both steps depend on it and go with it. */
    vm: pulumi.Resource;
    /** `<computeEndpoint>#<vmId>`: a new value means a new VM, so a new pin. */
    vmIdentity: pulumi.Input<string>;
    vmName: string;
    vmId: pulumi.Input<string>;
    /** The connection without a host key (the unpinned steps use it as is). */
    connection: types.input.remote.ConnectionArgs;
    /** Path prefix on the VM ("" on a real one) and how long to wait for cloud-init. */
    root: string;
    readyTimeoutSec: number;
    /** `stepsDigest` of everything the later steps send (triggers, stdin): when it changes, the check runs. May be secret. */
    stepsDigest: pulumi.Input<string>;
}

export interface HostKeyPin {
    /** The step that learns the key, once per VM. */
    learn: remote.Command;
    /** The step that re-reads it before later steps run; the first later step depends on it. */
    check: remote.Command;
    /** The pinned key, `ssh-ed25519 <base64>`, as recorded in state by `learn`. */
    hostKey: pulumi.Output<string>;
}

export function createHostKeyPin(parent: pulumi.Resource, a: HostKeyPinArgs): HostKeyPin {
    // One Output for both unpinned steps' connection: the SDK lifts it once.
    const connection = pulumi.output(a.connection);
    const learn = new remote.Command(
        childName(a.username, "host-key"),
        {
            connection,
            create: HOST_KEY_COMMAND,
            stdin: hostKeyStdin(a.root, a.readyTimeoutSec),
            triggers: [a.vmIdentity],
            // Sent as in the first release, though it is the default: any change of an input
            // not ignored below would run this step again, and so re-pin without an admin.
            logging: "stdoutAndStderr",
            addPreviousOutputInEnv: false,
        },
        // Held across ups: only a new VM (the trigger) or an explicit --replace runs it again.
        { parent, dependsOn: [a.vm], deletedWith: a.vm, ignoreChanges: ["connection", "stdin", "create"] },
    );
    const hostKey = learn.stdout.apply((out) => parseHostKey(a.username, out));
    const check = new remote.Command(
        childName(a.username, "host-key-check"),
        {
            connection,
            create: HOST_KEY_COMMAND,
            stdin: pulumi
                .all([hostKey, a.vmId, a.connection.host, learn.urn])
                .apply(([pinned, vmId, host, pinUrn]) => hostKeyCheckStdin(a.root, { username: a.username, vmName: a.vmName, vmId, host, pinned, seen: "", pinUrn })),
            triggers: [a.stepsDigest],
            // logging: the provider's default, stdout and stderr (not sent, so not stored).
            addPreviousOutputInEnv: false,
        },
        { parent, dependsOn: [learn], deletedWith: a.vm },
    );
    return { learn, check, hostKey };
}
