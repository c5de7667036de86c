/**
 * What the admin commands print from outside the program (stack outputs, Hero
 * Compute's answers, the Forge's, a VM's own output) can hold terminal control
 * sequences: a demo user is root on their VM and writes what its health step
 * prints. Before any of it reaches the admin's terminal, every control character
 * (C0 but tab and newline, DEL, C1) and every bidirectional override is replaced
 * by its visible escape, e.g. ESC by `\x1b`; JSON output escapes them as `\u001b`.
 */
import type { CommandIo } from "./command";

/** C0 controls but tab and newline, DEL, C1 controls, and the bidirectional embeddings, overrides and isolates. */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
/** The same, inside JSON text: JSON.stringify escapes C0 already, but leaves DEL, C1 and bidi characters raw. */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

const hex = (c: string, width: number) => c.charCodeAt(0).toString(16).padStart(width, "0");

/** `text` with each unsafe character shown as `\xNN` (or `\uNNNN` above 0xff): safe on a terminal, still readable. */
export function printable(text: string): string {
    return text.replace(UNSAFE, (c) => (c.charCodeAt(0) <= 0xff ? `\\x${hex(c, 2)}` : `\\u${hex(c, 4)}`));
}

/** A copy of `value` with every string in it made printable. */
export function printableDeep<T>(value: T): T {
    if (typeof value === "string") return printable(value) as T;
    if (Array.isArray(value)) return value.map(printableDeep) as T;
    if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [printable(k), printableDeep(v)])) as T;
    return value;
}

/** JSON text of `value` holding no raw control or bidi character: each is a `\uNNNN` escape, so the data is unchanged. */
export function terminalJson(value: unknown, space?: number): string {
    return JSON.stringify(value, null, space).replace(UNSAFE_IN_JSON, (c) => `\\u${hex(c, 4)}`);
}

/** The same I/O, with every line made printable before it is written. */
export function printableIo(io: CommandIo): CommandIo {
    return { ...io, out: (line) => io.out(printable(line)), err: (line) => io.err(printable(line)) };
}
