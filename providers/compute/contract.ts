/**
 * The binding (binding.json, read by bind.ts) against the live Hero Compute's own OpenRPC document:
 * where the document comes from (`rpc.discover`, else `GET /openrpc.json`), how
 * well a binding fits it (per operation: the live method, the params and result
 * fields matched, missing or extra, and every difference that would break a
 * call), and a binding that fits, suggested from the document itself.
 * The fit and the suggestion are pure functions of the binding and the document.
 */
import * as rpc from "./client";
import { type Binding, bindingProblems, loadBinding, methodCandidates, OPERATION_NAMES, OPERATIONS, type OperationName, requiredParams, RESULTS, type ResultKind } from "./bind";
import { liveMethod, liveParamsOf, resultProperties, type LiveMethod, type LiveParam } from "./document";
import { suggestBinding } from "./suggest";

export { suggestBinding };

/** Names matched, missing (the binding has them, the document does not) and extra (the document has them, the binding does not use them). */
export interface NamesFit {
    matched: string[];
    missing: string[];
    extra: string[];
}

export interface OperationFit {
    operation: OperationName;
    /** The method as the binding writes it. */
    written: string;
    /** The live method it binds to; undefined when the document has neither form. */
    method?: string;
    params: NamesFit;
    /** Undefined when the operation reads no result, or the document does not describe its fields. */
    result?: NamesFit;
    problems: string[];
}

export interface Fit {
    ok: boolean;
    operations: OperationFit[];
    /** Every difference that would break a call, one line each. */
    problems: string[];
}

export interface FitOptions {
    /** Whether `computeGatewayNode` is set: a gateway node param is sent only then. */
    gatewayNode?: boolean;
    /** The images the providers may send (our flist URLs). */
    images?: string[];
}

/** Where each of our params goes only sometimes, and when. */
const SOMETIMES: Partial<Record<`${OperationName}.${string}`, string>> = {
    "deployVm.node_id": "only for users whose vm.node pins a node",
    "deployGateway.node_id": "only when computeGatewayNode is set",
};

/** How `binding` fits the live document `doc`: one row per operation and every difference. */
export function fitBinding(b: Binding, doc: unknown, opts: FitOptions = {}): Fit {
    const d = doc as { methods?: unknown } | undefined;
    if (!d || !Array.isArray(d.methods)) {
        const problem = "the live document is no OpenRPC document (it has no `methods` list)";
        return { ok: false, problems: [problem], operations: [] };
    }
    const operations = OPERATION_NAMES.map((op) => fitOperation(b, doc, op, opts));
    const problems = operations.flatMap((o) => o.problems);
    return { ok: problems.length === 0, operations, problems };
}

function fitOperation(b: Binding, doc: unknown, op: OperationName, opts: FitOptions): OperationFit {
    const o = b.operations[op];
    const candidates = methodCandidates(o.method, b.service);
    const m = candidates.map((c) => liveMethod(doc, c)).find(Boolean);
    const empty: NamesFit = { matched: [], missing: [], extra: [] };
    if (!m) {
        return { operation: op, written: o.method, params: empty, problems: [`${op}: the live document has no method ${candidates.join(" or ")}`] };
    }
    const at = `${op} (${m.name})`;
    const problems: string[] = [];
    const live = liveParamsOf(doc, m);
    const byName = new Map(live.map((p) => [p.name, p]));
    const params: NamesFit = { matched: [], missing: [], extra: [] };
    const sent = new Set<string>();
    for (const [ours, name] of Object.entries(o.params ?? {})) {
        sent.add(name);
        const label = ours === name ? name : `${name} (our ${ours})`;
        const lp = byName.get(name);
        if (!lp) {
            params.missing.push(label);
            problems.push(`${at}: has no param ${name} (the binding sends our ${ours} as ${name})`);
            continue;
        }
        params.matched.push(label);
        problems.push(...valueProblems(b, op, ours, lp, at, opts));
        const when = SOMETIMES[`${op}.${ours}`];
        const sometimes = when && !(op === "deployGateway" && opts.gatewayNode);
        if (lp.required && sometimes) problems.push(`${at}: requires param ${name}, which we send ${when}`);
    }
    for (const [name, value] of Object.entries(o.constants ?? {})) {
        sent.add(name);
        const label = `${name}=${JSON.stringify(value)}`;
        const lp = byName.get(name);
        if (!lp) {
            params.missing.push(label);
            problems.push(`${at}: has no param ${name} (the binding sends it as a constant)`);
        } else {
            params.matched.push(label);
            if (!typeFits(lp.schema, value)) problems.push(`${at}: param ${name} is ${describeType(lp.schema)}, but the binding's constant is ${JSON.stringify(value)}`);
        }
    }
    for (const lp of live) {
        if (sent.has(lp.name)) continue;
        params.extra.push(lp.required ? `${lp.name} (required)` : lp.name);
        if (lp.required) problems.push(`${at}: requires param ${lp.name}, which the binding does not send (map one of our params to it, or give it a value under constants)`);
    }
    if (op === "injectKeys" && b.keys === "before" && !("name" in (o.params ?? {}))) {
        problems.push(`${at}: keys go before the deploy, when the VM has no id yet, so the binding must send our name`);
    }
    for (const ours of requiredParams(op, b.keys)) {
        if (!(ours in (o.params ?? {}))) problems.push(`${at}: the binding does not send our ${ours}`);
    }
    return { operation: op, written: o.method, method: m.name, params, result: fitResult(b, doc, op, m, at, problems), problems };
}

function fitResult(b: Binding, doc: unknown, op: OperationName, m: LiveMethod, at: string, problems: string[]): NamesFit | undefined {
    const kind = OPERATIONS[op].result?.replace("[]", "") as ResultKind | undefined;
    if (!kind) return undefined;
    const props = resultProperties(doc, m);
    if (!props) return undefined; // not described: nothing to check against
    const fit: NamesFit = { matched: [], missing: [], extra: [] };
    const read = new Set<string>();
    for (const [ours, name] of Object.entries(b.results[kind])) {
        read.add(name);
        const label = ours === name ? name : `${name} (our ${ours})`;
        if (props.includes(name)) {
            fit.matched.push(label);
        } else {
            fit.missing.push(label);
            const need = (RESULTS[kind].required as readonly string[]).includes(ours) ? "" : " (drop it from results if the service does not report it)";
            problems.push(`${at}: its result (${kind}) has no field ${name} (the binding reads our ${ours} from ${name})${need}`);
        }
    }
    fit.extra = props.filter((p) => !read.has(p));
    return fit;
}

/** What the live param's schema says about the values we send for `ours`: list or not, the image's pattern. */
function valueProblems(b: Binding, op: OperationName, ours: string, lp: LiveParam, at: string, opts: FitOptions): string[] {
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
    return [];
}

function safeRegExp(pattern: string): RegExp | undefined {
    try {
        return new RegExp(pattern);
    } catch {
        return undefined;
    }
}

function typeFits(schema: LiveParam["schema"], value: unknown): boolean {
    const t = schema?.type;
    if (t === undefined) return true;
    const types = Array.isArray(t) ? t : [t];
    return types.some((x) =>
        x === "integer" ? Number.isInteger(value) : x === "number" ? typeof value === "number" : x === "array" ? Array.isArray(value) : x === "null" ? value === null : typeof value === x,
    );
}

function describeType(schema: LiveParam["schema"]): string {
    const t = schema?.type;
    return t === undefined ? "untyped" : `of type ${Array.isArray(t) ? t.join(" or ") : t}`;
}

/** The live document and where it came from: `rpc.discover`, else `GET …/openrpc.json`. */
export async function fetchDocument(conn: rpc.Conn): Promise<{ doc: unknown; source: string }> {
    const tried: string[] = [];
    try {
        const doc = await rpc.call<unknown>(conn, "rpc.discover");
        if (Array.isArray((doc as { methods?: unknown } | null)?.methods)) return { doc, source: "rpc.discover" };
        tried.push("rpc.discover answered something that is no OpenRPC document");
    } catch (err) {
        tried.push(`rpc.discover: ${(err as rpc.RpcError).code ?? ""} ${(err as Error).message}`.trim());
    }
    for (const url of rpc.documentUrls(conn)) {
        try {
            const doc = await rpc.getJson(conn, url);
            if (Array.isArray((doc as { methods?: unknown } | null)?.methods)) return { doc, source: `GET ${url.replace(/^http:\/\/localhost/, "")}` };
            tried.push(`GET ${url}: not an OpenRPC document`);
        } catch (err) {
            tried.push(`GET ${url}: ${(err as Error).message}`);
        }
    }
    throw new Error(`Hero Compute at ${rpc.canonicalEndpoint(conn.url)} gave no OpenRPC document:\n  - ${tried.join("\n  - ")}`);
}

export interface PreflightOptions {
    /** The binding file (`computeBinding`); unset: the default binding. */
    bindingFile?: string;
    /** Whether `computeGatewayNode` is set. */
    gatewayNode?: boolean;
    images?: string[];
    timeoutMs?: number;
    retries?: number;
}

/**
 * Checks the binding against the live service before anything deploys. Throws
 * ONE error listing every difference (and how to get a binding that fits).
 */
export async function preflight(url: string, token?: string, opts: PreflightOptions = {}): Promise<void> {
    const binding = loadBinding(opts.bindingFile);
    const { doc } = await fetchDocument({ url, token, timeoutMs: opts.timeoutMs, retries: opts.retries });
    const fit = fitBinding(binding, doc, opts);
    if (!fit.ok) {
        throw new Error(
            `Hero Compute at ${rpc.canonicalEndpoint(url)} does not offer what this deployer needs, as the binding ${binding.file} maps it; nothing was deployed:\n  - ${fit.problems.join("\n  - ")}\n` +
                "Run `npm run preflight` for the whole report and a suggested binding, then adapt the binding file (no TypeScript to change) and run pulumi up again.",
        );
    }
}

/** Whether `data` is a binding that fits `doc`: its own problems first, then the fit's. */
export function checkSuggested(data: unknown, doc: unknown, opts: FitOptions = {}): string[] {
    const own = bindingProblems(data);
    return own.length > 0 ? own : fitBinding(data as Binding, doc, opts).problems;
}
