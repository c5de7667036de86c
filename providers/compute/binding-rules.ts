/**
 * What makes a binding file usable: every rule, each problem in one line that
 * says the edit to make. An older binding file (before `states`, `errors`,
 * `auth`, `types` and keys "only-with") is still a binding: every new field is
 * optional and defaults to what the providers did before. Pure.
 */
import { type Binding, OPERATION_NAMES, OPERATIONS, type OperationBinding, type OperationName, RESULTS, type ResultKind } from "./bind";
import { ERROR_KINDS, GATEWAY_STATES, VM_STATES } from "./wire";

/** What admins write for "no key-injection method" before they know the word: read as "only-with", with the edit to make. */
const ONLY_WITH_ALIASES = ["none", "deploy", "with-deploy"];
const KNOWN = ["comment", "service", "keys", "backends", "sizeUnit", "images", "operations", "results", "states", "errors", "auth"];
const isMap = (x: unknown): x is Record<string, unknown> => !!x && typeof x === "object" && !Array.isArray(x);

/** Every way `data` is not a usable binding. Empty when it is one. */
export function bindingProblems(data: unknown): string[] {
    const b = data as Partial<Binding> | null;
    if (!isMap(b)) return ["not a JSON object"];
    const problems: string[] = [];
    for (const k of Object.keys(b)) if (!KNOWN.includes(k)) problems.push(`unknown key ${k} (known: ${KNOWN.join(", ")})`);
    if (typeof b.service !== "string") problems.push(`service must be a string, e.g. "ComputeService" ("" when the methods have no prefix)`);
    const keys = b.keys as unknown;
    if (ONLY_WITH_ALIASES.includes(keys as string)) problems.push(`keys ${JSON.stringify(keys)} is not known: write "keys": "only-with" (deploy_vm carries them, nothing adds them later) and leave operations.injectKeys out`);
    else if (keys !== "with" && keys !== "before" && keys !== "only-with") problems.push(`keys must be "with" (deploy_vm carries them), "before" (inject_ssh_keys first) or "only-with" (deploy_vm carries them and there is no key-injection method), not ${JSON.stringify(keys)}`);
    if (b.backends !== "one" && b.backends !== "list") problems.push(`backends must be "one" or "list", not ${JSON.stringify(b.backends)}`);
    if (b.sizeUnit !== "MB" && b.sizeUnit !== "GB") problems.push(`sizeUnit must be "MB" or "GB", not ${JSON.stringify(b.sizeUnit)}`);
    if (!isMap(b.images) || Object.values(b.images).some((v) => typeof v !== "string")) problems.push("images must map image URLs to strings ({} for none)");
    problems.push(...optionalProblems(b));
    if (!isMap(b.operations)) return [...problems, "operations must be an object with one entry per operation"];
    problems.push(...operationProblems(b, b.operations));
    if (!isMap(b.results)) return [...problems, "results must map our result fields to live ones, for Vm and Gateway"];
    for (const kind of Object.keys(RESULTS) as ResultKind[]) {
        const r = b.results[kind];
        if (!isMap(r) || Object.values(r).some((v) => typeof v !== "string")) {
            problems.push(`results.${kind} must map our field names to live ones`);
            continue;
        }
        const fields: readonly string[] = RESULTS[kind].fields;
        for (const f of Object.keys(r)) if (!fields.includes(f)) problems.push(`results.${kind}.${f}: we read no field ${f} (ours: ${fields.join(", ")})`);
        for (const f of RESULTS[kind].required) if (!(f in r)) problems.push(`results.${kind} must map our ${f}`);
    }
    return problems;
}

function operationProblems(b: Partial<Binding>, ops: Record<string, unknown>): string[] {
    const problems: string[] = [];
    const mode = b.keys === "before" || b.keys === "only-with" ? b.keys : ONLY_WITH_ALIASES.includes(b.keys as string) ? "only-with" : "with";
    for (const k of Object.keys(ops)) if (!(k in OPERATIONS)) problems.push(`operations.${k} is not one of ours (${OPERATION_NAMES.join(", ")})`);
    for (const op of OPERATION_NAMES) {
        const o = ops[op] as OperationBinding | undefined | null;
        if (op === "injectKeys" && mode === "only-with") {
            if (o !== undefined && o !== null) problems.push(`operations.injectKeys must be left out: keys are "only-with" (no key-injection method); remove it, or set "keys": "with" if the service can add keys to a VM`);
            continue;
        }
        if (!isMap(o)) {
            problems.push(op === "injectKeys" ? `operations.injectKeys is missing: name the service's key-injection method, or set "keys": "only-with" if it has none` : `operations.${op} is missing`);
            continue;
        }
        if (typeof o.method !== "string" || o.method === "") problems.push(`operations.${op}.method must name the live method`);
        if (o.params !== undefined && (!isMap(o.params) || Object.values(o.params).some((v) => typeof v !== "string"))) problems.push(`operations.${op}.params must map our param names to live ones`);
        if (o.constants !== undefined && !isMap(o.constants)) problems.push(`operations.${op}.constants must map live param names to values`);
        const params = isMap(o.params) ? o.params : {};
        const ours: readonly string[] = OPERATIONS[op].params;
        for (const p of Object.keys(params)) if (!ours.includes(p)) problems.push(`operations.${op}.params.${p}: we have no param ${p} (ours: ${ours.join(", ") || "none"})`);
        for (const p of requiredParams(op, mode)) if (!(p in params)) problems.push(`operations.${op}.params must map our ${p}`);
        if (o.types !== undefined) {
            if (!isMap(o.types)) problems.push(`operations.${op}.types must map our param names to "string" or "integer"`);
            else {
                for (const [p, t] of Object.entries(o.types)) {
                    if (!(p in params)) problems.push(`operations.${op}.types.${p}: the binding does not send our ${p} (map it under params, or drop the type)`);
                    if (t !== "string" && t !== "integer") problems.push(`operations.${op}.types.${p} must be "string" or "integer", not ${JSON.stringify(t)}`);
                }
            }
        }
    }
    const inject = ops.injectKeys as OperationBinding | undefined;
    if (mode === "with" && isMap(inject) && !("vm_id" in (inject.params ?? {})) && !("name" in (inject.params ?? {}))) {
        problems.push("operations.injectKeys.params must map our vm_id or our name: how the live service names the VM");
    }
    return problems;
}

/** `states`, `errors` and `auth`: each optional, each checked when given. */
function optionalProblems(b: Partial<Binding>): string[] {
    const problems: string[] = [];
    if (b.states !== undefined) {
        if (!isMap(b.states)) problems.push(`states must map, per result kind (Vm, Gateway), the service's state words to ours`);
        else {
            for (const [kind, map] of Object.entries(b.states)) {
                const ours: readonly string[] = kind === "Vm" ? VM_STATES : kind === "Gateway" ? GATEWAY_STATES : [];
                if (ours.length === 0) problems.push(`states.${kind}: we read states of Vm and Gateway only`);
                else if (!isMap(map)) problems.push(`states.${kind} must map the service's words to ours (${ours.join(", ")})`);
                else for (const [word, v] of Object.entries(map)) if (typeof v !== "string" || !ours.includes(v)) problems.push(`states.${kind}.${word} must be one of ours (${ours.join(", ")}), not ${JSON.stringify(v)}`);
            }
        }
    }
    if (b.errors !== undefined) {
        if (!isMap(b.errors)) problems.push(`errors must map notFound, nameTaken and nameExists to { "code": <number>, "message": "<part of the message>" }`);
        else {
            for (const [kind, m] of Object.entries(b.errors)) {
                if (!(ERROR_KINDS as string[]).includes(kind)) problems.push(`errors.${kind} is not one we act on (${ERROR_KINDS.join(", ")})`);
                else if (typeof m === "number") problems.push(`errors.${kind} must be an object: write "${kind}": { "code": ${m} }`);
                else if (!isMap(m) || (m.code === undefined && m.message === undefined)) problems.push(`errors.${kind} must give a code, a message, or both, e.g. { "code": -32004 }`);
                else {
                    if (m.code !== undefined && !Number.isInteger(m.code)) problems.push(`errors.${kind}.code must be a whole number, not ${JSON.stringify(m.code)}`);
                    if (m.message !== undefined && (typeof m.message !== "string" || m.message === "")) problems.push(`errors.${kind}.message must be a non-empty piece of the service's message`);
                }
            }
        }
    }
    if (b.auth !== undefined) {
        const a = b.auth as unknown;
        if (typeof a === "string") problems.push(`auth must be an object: write "auth": { "header": ${JSON.stringify(a)}, "scheme": "" }`);
        else if (!isMap(a) || typeof a.header !== "string" || !/^[A-Za-z0-9-]+$/.test(a.header) || typeof a.scheme !== "string" || /\s/.test(a.scheme)) {
            problems.push(`auth must be { "header": "<header name>", "scheme": "<scheme, or \\"\\" for the bare token>" }, e.g. { "header": "Authorization", "scheme": "Bearer" }`);
        }
    }
    return problems;
}

/** Our params an operation cannot go without, given where the keys go. */
export function requiredParams(op: OperationName, keys: Binding["keys"]): string[] {
    const req: string[] = [...OPERATIONS[op].required];
    if (op === "deployVm" && keys !== "before") req.push("ssh_keys");
    if (op === "injectKeys" && keys === "before") req.push("name"); // before the deploy there is no id yet
    return req;
}
