/**
 * How the values a binding sends and reads fit the live document, beyond the
 * names: each param's type (ours, or the binding's `types`) against the
 * document's, a list or one backend, the image's pattern, the state words the
 * document lists against the binding's value maps, and the document's errors
 * against the binding's `errors`. Pure.
 */
import type { Binding, OperationName, ResultKind } from "./bind";
import type { FitOptions } from "./contract";
import { documentErrors, type LiveMethod, type LiveParam, schemaTypes } from "./document";
import { classifyErrors } from "./guess";
import { documentStates } from "./suggest-values";
import { DEFAULT_ERRORS, ERROR_KINDS, errorIs, GATEWAY_STATES, ourState, VM_STATES } from "./wire";

/** The JSON type we send for one of our params, as the binding converts it. */
export function sentType(b: Binding, op: OperationName, ours: string): string {
    const declared = b.operations[op]?.types?.[ours];
    if (declared) return declared;
    if (ours === "vm_id" || ours === "name" || ours === "flist") return "string";
    if (ours === "backend") return b.backends === "list" ? "array" : "string";
    if (ours === "ssh_keys") return "array";
    if (ours === "cpu" || ours === "node_id") return "integer";
    if (ours === "memory" || ours === "disk") return b.sizeUnit === "GB" ? "number" : "integer";
    if (ours === "mycelium" || ours === "public_ip") return "boolean";
    return "unknown";
}

/** Whether a value of JSON type `sent` is one the live schema's types take. */
function takes(types: string[], sent: string): boolean {
    if (sent === "unknown") return true;
    return types.some((t) => t === sent || (t === "number" && sent === "integer") || (t === "integer" && sent === "number"));
}

/** What the live param's schema says about the values we send for `ours`: list or not, the image's pattern. */
export function valueProblems(b: Binding, op: OperationName, ours: string, lp: LiveParam, at: string, opts: FitOptions): string[] {
    const type = lp.schema?.type;
    if (ours === "backend") {
        if (b.backends === "one" && type === "array") return [`${at}: param ${lp.name} takes a list of backends (set "backends": "list")`];
        if (b.backends === "list" && type === "string") return [`${at}: param ${lp.name} takes one backend (set "backends": "one")`];
    }
    if (ours === "ssh_keys" && type !== undefined && type !== "array") return [`${at}: param ${lp.name} is ${describeType(lp.schema)}, not a list of keys`];
    if (ours === "flist" && typeof lp.schema?.pattern === "string") {
        const re = safeRegExp(lp.schema.pattern);
        const sent = (opts.images ?? []).map((i) => b.images[i] ?? i);
        const refused = re ? sent.filter((v) => !re.test(v)) : [];
        if (refused.length > 0) return [`${at}: param ${lp.name} must match ${lp.schema.pattern}, which ${refused.join(", ")} does not (name the image under images)`];
    }
    const types = schemaTypes(lp.schema);
    const sent = sentType(b, op, ours);
    if (ours !== "ssh_keys" && ours !== "backend" && types && types.length > 0 && !takes(types, sent)) {
        const hint = ours === "vm_id" ? ` (set operations.${op}.types.${ours} to ${JSON.stringify(types.includes("string") ? "string" : "integer")})` : "";
        return [`${at}: param ${lp.name} is ${describeType(lp.schema)}, but the binding sends our ${ours} as ${sent === "integer" ? "an" : "a"} ${sent}${hint}`];
    }
    return [];
}

function safeRegExp(pattern: string): RegExp | undefined {
    try {
        return new RegExp(pattern);
    } catch {
        return undefined;
    }
}

export function typeFits(schema: LiveParam["schema"], value: unknown): boolean {
    const t = schema?.type;
    if (t === undefined) return true;
    const types = Array.isArray(t) ? t : [t];
    return types.some((x) =>
        x === "integer" ? Number.isInteger(value) : x === "number" ? typeof value === "number" : x === "array" ? Array.isArray(value) : x === "null" ? value === null : typeof value === x,
    );
}

export function describeType(schema: LiveParam["schema"]): string {
    const t = schema?.type;
    return t === undefined ? "untyped" : `of type ${Array.isArray(t) ? t.join(" or ") : t}`;
}

/** Every state word the document lists that the binding's value map does not place (the wait would stop on it with an error). */
export function stateProblems(b: Binding, doc: unknown, methods: Record<OperationName, LiveMethod | undefined>): string[] {
    const problems: string[] = [];
    for (const kind of ["Vm", "Gateway"] as ResultKind[]) {
        const listed = documentStates(doc, b, kind, methods);
        if (!listed) continue;
        const ours: readonly string[] = kind === "Vm" ? VM_STATES : GATEWAY_STATES;
        const unplaced = listed.words.filter((w) => ourState(b, kind, w) === undefined);
        if (unplaced.length > 0) {
            problems.push(`${kind} states: ${listed.where} lists ${unplaced.map((w) => `"${w}"`).join(", ")}, which ${b.states?.[kind] ? `states.${kind}` : `the binding (no states.${kind}: ours as they are)`} does not map: map each to one of ${ours.join(", ")} under states.${kind}`);
        }
    }
    return problems;
}

/** The document's not-found, name-taken and name-exists errors that the binding's `errors` would not recognise. */
export function errorProblems(b: Binding, doc: unknown): string[] {
    const found = classifyErrors(documentErrors(doc));
    const problems: string[] = [];
    for (const kind of ERROR_KINDS) {
        const e = found[kind];
        if (!e) continue;
        const seen = { name: "RpcError", code: e.code, serverMessage: e.message };
        if (!errorIs(b, seen, kind)) {
            const ours = b.errors?.[kind] ?? DEFAULT_ERRORS[kind];
            problems.push(`errors: the document's ${e.name ?? "error"} (${e.code}, ${JSON.stringify(e.message)}) reads as ${kind}, but the binding takes ${JSON.stringify(ours)} for it (set errors.${kind} to { "code": ${e.code} })`);
        }
    }
    return problems;
}
