/**
 * Positions for the users file's problems: maps a path in the parsed data to
 * `file:line:col: user "x": field: message`, the one style of every line.
 */
import { isMap, isPair, isScalar, type Document, type LineCounter } from "yaml";
import type { $ZodIssue } from "zod/v4/core";
import { show } from "./limits";

type Path = readonly PropertyKey[];

/** One positioned problem: sorted by line and column, printed as `text`. */
export interface Problem {
    line: number;
    col: number;
    text: string;
}

export class Locator {
    constructor(
        private readonly doc: Document,
        private readonly lines: LineCounter,
        private readonly file: string,
    ) {}

    /** The problem `message` about the value at `path` (at `offset` when given, else the deepest node that exists). */
    at(path: Path, message: string, offset?: number): Problem {
        const pos = this.lines.linePos(offset ?? this.offset(path));
        const field = fieldName(path);
        return { line: pos.line, col: pos.col, text: `${this.file}:${pos.line}:${pos.col}: ${this.subject(path)}${field ? `${field}: ` : ""}${message}` };
    }

    text(p: Problem): string {
        return p.text;
    }

    /** In file order; problems at one position keep the order they were found in. */
    sorted(problems: readonly Problem[]): string[] {
        return [...problems].sort((a, b) => a.line - b.line || a.col - b.col).map((p) => p.text);
    }

    line(path: Path): number {
        return this.lines.linePos(this.offset(path)).line;
    }

    /** A zod issue's message in our words: ours as they are, zod's own with the value shown. */
    phrase(issue: $ZodIssue): string {
        if (issue.code === "custom") return issue.message;
        if (issue.code === "invalid_type") return `${show(issue.input)} is not ${issue.expected === "array" ? "a list" : issue.expected === "object" ? "a map" : `a ${issue.expected}`}`;
        const msg = issue.message;
        return /^["(]|^(is|must) /.test(msg) ? msg : msg.charAt(0).toLowerCase() + msg.slice(1);
    }

    keyOffset(path: Path, key: string): number | undefined {
        const map = path.length === 0 ? this.doc.contents : this.doc.getIn(path as unknown[], true);
        if (!isMap(map)) {
            return undefined;
        }
        const pair = map.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
        return (pair?.key as { range?: [number, number, number] } | undefined)?.range?.[0];
    }

    private subject(path: Path): string {
        if (path[0] === "users" && typeof path[1] === "number") {
            const name = this.doc.getIn(["users", path[1], "username"]);
            return `user ${typeof name === "string" ? `"${name}"` : `#${path[1] + 1}`}: `;
        }
        return path[0] === "defaults" ? "defaults: " : "";
    }

    /** Offset of the deepest node on `path` that exists in the document. */
    private offset(path: Path): number {
        for (let n = path.length; n >= 0; n--) {
            let node: unknown;
            try {
                node = n === 0 ? this.doc.contents : this.doc.getIn(path.slice(0, n) as unknown[], true);
            } catch {
                node = undefined;
            }
            const range = (node as { range?: [number, number, number] } | undefined)?.range;
            if (range) {
                return range[0];
            }
        }
        return 0;
    }
}

/** `["users", 0, "services", 2]` → `services[2]`; `["defaults", "vm", "cpu"]` → `vm.cpu`. */
export function fieldName(path: Path): string {
    const rest = path[0] === "users" && typeof path[1] === "number" ? path.slice(2) : path[0] === "defaults" ? path.slice(1) : path;
    return rest.reduce<string>((s, p) => (typeof p === "number" ? `${s}[${p}]` : s ? `${s}.${String(p)}` : String(p)), "");
}
