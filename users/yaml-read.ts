/**
 * Reads the users file's YAML into plain data without ever throwing: syntax
 * errors, duplicate keys, aliases with no anchor, an alias inside its own
 * anchor and alias bombs all come back as positioned findings. Aliases are
 * otherwise welcome: thousands of `vm: *big` cost nothing, because the bound
 * is on the values the file expands to, not on the number of aliases.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from "yaml";
import { MAX_EXPANDED_VALUES } from "./limits";

/** A problem found in the YAML itself: where (offset, and the data path when known) and what. */
export interface Finding {
    offset: number;
    path: PropertyKey[];
    message: string;
    /** True when the data cannot be built (validation stops); false for a duplicate key (the later one is kept and checked). */
    fatal: boolean;
}

export interface ReadYaml {
    doc: Document;
    lines: LineCounter;
    /** The data, when the YAML could be turned into it. */
    data?: unknown;
    findings: Finding[];
}

type AnyNode = { range?: [number, number, number] | null };

export function readYaml(text: string): ReadYaml {
    const lines = new LineCounter();
    // Duplicate keys are found below, where the key's name and both lines are known.
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
    if (doc.errors.length > 0) {
        const findings = doc.errors.map((e) => ({ offset: e.pos[0], path: [], message: `YAML syntax: ${e.message.split("\n")[0]}`, fatal: true }));
        return { doc, lines, findings };
    }
    const findings = walk(doc, lines);
    if (findings.some((f) => f.fatal)) {
        return { doc, lines, findings };
    }
    try {
        // The expansion bound above replaces yaml's alias count, which refuses 100 users sharing one anchor.
        return { doc, lines, data: doc.toJS({ maxAliasCount: -1 }), findings };
    } catch (err) {
        return { doc, lines, findings: [{ offset: 0, path: [], message: `YAML: ${(err as Error).message}`, fatal: true }] };
    }
}

/**
 * One pass in document order: duplicate keys, aliases without anchor or inside
 * their own, and the expansion bound. Anchors are tracked as the pass meets
 * them (yaml's own `Alias.resolve` searches the whole document each time,
 * which made 5,000 aliases take minutes), and each node's expanded size is
 * computed bottom-up in the same pass.
 */
function walk(doc: Document, lines: LineCounter): Finding[] {
    const findings: Finding[] = [];
    const anchors = new Map<string, unknown>();
    const sizes = new Map<unknown, number>();
    const open = new Set<unknown>();
    let total = 0;
    let bombReported = false;

    /** Returns the values `node` stands for once aliases are expanded. */
    const visit = (node: unknown, path: PropertyKey[]): number => {
        if (node === null || node === undefined) return 0;
        if (isAlias(node)) {
            const at = (node as AnyNode).range?.[0] ?? 0;
            const target = anchors.get(node.source);
            if (target === undefined) {
                findings.push({ offset: at, path, message: `*${node.source} has no anchor &${node.source} before it (define the anchor before its first use)`, fatal: true });
                total += 1;
                return 1;
            }
            if (open.has(target)) {
                findings.push({ offset: at, path, message: `*${node.source} is inside its own anchor &${node.source} (an alias cannot contain itself)`, fatal: true });
                total += 1;
                return 1;
            }
            const size = sizes.get(target) ?? 1;
            total += size;
            if (total > MAX_EXPANDED_VALUES && !bombReported) {
                bombReported = true;
                const max = MAX_EXPANDED_VALUES.toLocaleString("en-US");
                findings.push({
                    offset: at,
                    path,
                    message: `*${node.source}: the file expands to more than ${max} values through aliases here (at most ${max}; each alias repeats its anchor's whole value)`,
                    fatal: true,
                });
            }
            return size;
        }
        const anchor = (node as { anchor?: string }).anchor;
        if (anchor) anchors.set(anchor, node);
        total += 1;
        let size = 1;
        open.add(node);
        if (isSeq(node)) {
            node.items.forEach((item, i) => (size += visit(item, [...path, i])));
        } else if (isMap(node)) {
            const first = new Map<string, number>();
            for (const pair of node.items) {
                const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
                const keyAt = (pair.key as AnyNode | null)?.range?.[0] ?? 0;
                size += visit(pair.key, path);
                if (key !== undefined) {
                    const seen = first.get(key);
                    if (seen !== undefined) {
                        findings.push({ offset: keyAt, path: [...path, key], message: `appears twice in this map (first on line ${lines.linePos(seen).line}; keep one)`, fatal: false });
                    } else {
                        first.set(key, keyAt);
                    }
                }
                size += visit(pair.value, key === undefined ? path : [...path, key]);
            }
        }
        open.delete(node);
        sizes.set(node, size);
        return size;
    };
    visit(doc.contents, []);
    return findings;
}
