/**
 * OpenSSH public key lines (`<type> <base64 blob> [comment]`), checked the way
 * `ssh-keygen -l` and sshd would: the blob must decode, name the same type as
 * the prefix, and hold fields of sound lengths with nothing left over. RSA
 * under 2048 bits and DSA are refused (OpenSSH no longer accepts DSA).
 *
 * Plain TypeScript with no Pulumi import: the users-file schema and the Vm
 * provider's `check` both use `sshKeyProblem`.
 */

export const RSA_MIN_BITS = 2048;
const RSA_MAX_BITS = 16_384;

/** Key types we accept, and the curve or point size each implies. */
const ECDSA_POINT: Readonly<Record<string, number>> = { nistp256: 65, nistp384: 97, nistp521: 133 };
export const KEY_TYPES: readonly string[] = [
    "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
];
const ALLOWED = "ssh-ed25519, ecdsa, or ssh-rsa of 2048 bits or more";

/** A short, recognisable form of a key line for messages: type and the first characters of the blob. */
export function abbreviateKey(line: string): string {
    const [type = "", blob = ""] = line.trim().split(/\s+/);
    return JSON.stringify(blob ? `${type} ${blob.slice(0, 12)}...` : type.length > 24 ? `${type.slice(0, 20)}...` : type);
}

/** The identity of a key, ignoring its comment: `<type> <blob>`. */
export function keyIdentity(line: string): string {
    return line.trim().split(/\s+/).slice(0, 2).join(" ");
}

/** Reads SSH wire-format fields (uint32 length + bytes); `string()` is undefined when the blob is cut short. */
interface Reader {
    string(): Buffer | undefined;
    done(): boolean;
}

/**
 * A closure, not a class: Pulumi's closure serializer drops class field
 * initializers (`private at = 0`), which broke this check inside the Vm
 * provider's serialized code (test/compute-host.test.ts checks a real key through the serialized provider).
 */
function reader(buf: Buffer): Reader {
    let at = 0;
    return {
        string() {
            if (at + 4 > buf.length) return undefined;
            const len = buf.readUInt32BE(at);
            if (at + 4 + len > buf.length) return undefined;
            const out = buf.subarray(at + 4, at + 4 + len);
            at += 4 + len;
            return out;
        },
        done: () => at === buf.length,
    };
}

/** Bits in an SSH mpint (big-endian, two's complement, leading zero for positive). */
function mpintBits(n: Buffer): number {
    let i = 0;
    while (i < n.length && n[i] === 0) i++;
    if (i === n.length) return 0;
    return (n.length - i - 1) * 8 + (32 - Math.clz32(n[i]));
}

/** What is wrong with an OpenSSH public key line, or undefined. The message names the key only by its start. */
export function sshKeyProblem(line: unknown): string | undefined {
    if (typeof line !== "string") {
        return `is not text (an OpenSSH public key line: ${ALLOWED})`;
    }
    const shown = abbreviateKey(line);
    const m = /^(\S+) ([A-Za-z0-9+/]+={0,2})(?:[ \t][^\n]*)?$/.exec(line.trim());
    if (!m) {
        return `${shown} is not an OpenSSH public key line ("<type> <base64> [comment]", as in a .pub file)`;
    }
    const [, type, b64] = m;
    if (type === "ssh-dss") {
        return `${shown} is a DSA key, which OpenSSH no longer accepts (${ALLOWED})`;
    }
    if (!KEY_TYPES.includes(type)) {
        return `${shown} has the unknown key type "${type}" (${ALLOWED})`;
    }
    if (b64.length % 4 !== 0 || /=[^=]/.test(b64)) {
        return `${shown} is truncated or damaged: its base64 does not decode (paste the whole line of the .pub file)`;
    }
    const r = reader(Buffer.from(b64, "base64"));
    const inner = r.string()?.toString("latin1");
    if (inner === undefined) {
        return `${shown} is truncated or damaged: its key data is cut short (paste the whole line of the .pub file)`;
    }
    if (inner !== type) {
        return `${shown} says ${type} but its key data is ${JSON.stringify(inner.slice(0, 40))} (paste the line unchanged)`;
    }
    const fields = bodyProblem(type, r);
    if (fields === "short") {
        return `${shown} is truncated or damaged: its key data is cut short (paste the whole line of the .pub file)`;
    }
    if (fields) {
        return `${shown} ${fields}`;
    }
    return r.done() ? undefined : `${shown} is damaged: its key data has bytes after the key (paste the line unchanged)`;
}

/** Checks the fields after the type; "short" when the blob ends too early. */
function bodyProblem(type: string, r: Reader): string | undefined {
    if (type === "ssh-ed25519" || type === "sk-ssh-ed25519@openssh.com") {
        const pk = r.string();
        if (!pk) return "short";
        if (pk.length !== 32) return `is damaged: its ed25519 key is ${pk.length} bytes, not 32`;
        if (type.startsWith("sk-") && !r.string()) return "short";
        return undefined;
    }
    if (type === "ssh-rsa") {
        const e = r.string();
        const n = r.string();
        if (!e || !n) return "short";
        const bits = mpintBits(n);
        if (mpintBits(e) < 2 || (e[e.length - 1] & 1) === 0) return "is damaged: its RSA exponent is not valid";
        if (bits < RSA_MIN_BITS) return `is an RSA key of ${bits} bits, too weak (RSA ${RSA_MIN_BITS} bits or more, or ssh-ed25519)`;
        if (bits > RSA_MAX_BITS) return `is an RSA key of ${bits} bits (at most ${RSA_MAX_BITS})`;
        return undefined;
    }
    // ecdsa-sha2-<curve> and sk-ecdsa-sha2-nistp256@openssh.com
    const curve = /nistp\d+/.exec(type)![0];
    const named = r.string();
    const point = r.string();
    if (!named || !point) return "short";
    if (named.toString("latin1") !== curve) return `is damaged: its curve is ${JSON.stringify(named.toString("latin1").slice(0, 20))}, not ${curve}`;
    if (point.length !== ECDSA_POINT[curve] || point[0] !== 4) return `is damaged: its ${curve} point is ${point.length} bytes, not ${ECDSA_POINT[curve]}`;
    if (type.startsWith("sk-") && !r.string()) return "short";
    return undefined;
}
