/**
 * The binding (binding.json, read by bind.ts) against the live Hero Compute's own OpenRPC document:
 * where the document comes from (`rpc.discover`, else `GET /openrpc.json`), how
 * well a binding fits it (per operation: the live method, the params and result
 * fields matched, missing or extra, and every difference that would break a
 * call), and a binding that fits, suggested from the document itself.
 * The fit and the suggestion are pure functions of the binding and the document.
 */
import * as rpc from "./client";
import { type Binding, bindingProblems, connOf, loadBinding, methodCandidates, OPERATION_NAMES, OPERATIONS, type OperationName, requiredParams, RESULTS, type ResultKind } from "./bind";
import { liveMethod, liveParamsOf, resultFieldSchema, resultProperties, schemaTypes, type LiveMethod } from "./document";
import { describeType, errorProblems, stateProblems, typeFits, valueProblems } from "./fit-values";
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

/** The JSON types we can read each result field from (an id may be a number: it is read as our string). */
const RESULT_TYPES: Record<string, string[]> = {
    id: ["string", "integer", "number"], vm_id: ["string", "integer", "number"], name: ["string"], state: ["string"], node_id: ["integer", "number"],
    mycelium_ip: ["string"], cpu: ["integer", "number"], memory: ["integer", "number"], ssh_keys: ["array"], fqdn: ["string"], backend: ["string", "array"], error: ["string"],
};

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
    // Keys that travel only with the deploy: there is no key-injection method to bind.
    const ops = OPERATION_NAMES.filter((op) => !(op === "injectKeys" && b.keys === "only-with"));
    const operations = ops.map((op) => fitOperation(b, doc, op, opts));
    const methods = Object.fromEntries(operations.map((o) => [o.operation, o.method ? liveMethod(doc, o.method) : undefined])) as Record<OperationName, LiveMethod | undefined>;
    const problems = [...operations.flatMap((o) => o.problems), ...stateProblems(b, doc, methods), ...errorProblems(b, doc)];
    return { ok: problems.length === 0, operations, problems };
}

function fitOperation(b: Binding, doc: unknown, op: OperationName, opts: FitOptions): OperationFit {
    const o = b.operations[op] ?? { method: "(none)" };
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
        const value = lp.schema?.default !== undefined ? `the document's default is ${JSON.stringify(lp.schema.default)}` : lp.schema?.examples?.length ? `the document's example is ${JSON.stringify(lp.schema.examples[0])}` : "the document gives no default or example";
        if (lp.required) problems.push(`${at}: requires param ${lp.name}, which the binding does not send (map one of our params to it, or give it a value under constants; ${value})`);
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
            const types = schemaTypes(resultFieldSchema(doc, m, name));
            const want = RESULT_TYPES[ours];
            if (types && types.length > 0 && want && !types.some((t) => want.includes(t))) {
                problems.push(`${at}: its result's ${name} is ${describeType({ type: types })}, but we read our ${ours} as ${want.join(" or ")}`);
            }
        } else {
            fit.missing.push(label);
            const need = (RESULTS[kind].required as readonly string[]).includes(ours) ? "" : " (drop it from results if the service does not report it)";
            problems.push(`${at}: its result (${kind}) has no field ${name} (the binding reads our ${ours} from ${name})${need}`);
        }
    }
    fit.extra = props.filter((p) => !read.has(p));
    return fit;
}

/** The live document and where it came from: `rpc.discover`, else `GET …/openrpc.json`. */
export async function fetchDocument(conn: rpc.Conn): Promise<{ doc: unknown; source: string; refused?: string }> {
    const tried: string[] = [];
    let refused: string | undefined;
    try {
        const doc = await rpc.call<unknown>(conn, "rpc.discover");
        if (Array.isArray((doc as { methods?: unknown } | null)?.methods)) return { doc, source: "rpc.discover" };
        tried.push("rpc.discover answered something that is no OpenRPC document");
    } catch (err) {
        const code = (err as rpc.RpcError).code;
        if (code === "HTTP 401" || code === "HTTP 403") refused = (err as Error).message;
        tried.push((err as Error).message);
    }
    for (const url of rpc.documentUrls(conn)) {
        try {
            const doc = await rpc.getJson(conn, url);
            if (Array.isArray((doc as { methods?: unknown } | null)?.methods)) return { doc, source: `GET ${url.replace(/^http:\/\/localhost/, "")}`, ...(refused ? { refused } : {}) };
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
    const { doc, refused } = await fetchDocument(connOf({ url, token, timeoutMs: opts.timeoutMs, retries: opts.retries }, binding));
    const fit = fitBinding(binding, doc, opts);
    const problems = [...(refused ? [authProblem(binding, refused)] : []), ...fit.problems];
    if (problems.length > 0) {
        throw new Error(
            `Hero Compute at ${rpc.canonicalEndpoint(url)} does not offer what this deployer needs, as the binding ${binding.file} maps it; nothing was deployed:\n  - ${problems.join("\n  - ")}\n` +
                "Run `npm run preflight` for the whole report and a suggested binding, then adapt the binding file (no TypeScript to change) and run pulumi up again.",
        );
    }
}

/** The problem when the service refused the token on rpc.discover (its document came from GET): the binding's auth, which no document gives. */
export function authProblem(b: Pick<Binding, "auth">, refused: string): string {
    const now = b.auth ? `header ${b.auth.header}, scheme ${JSON.stringify(b.auth.scheme)}` : "none, so Authorization: Bearer";
    return `auth: the service refused the token on rpc.discover (${refused}); the binding's auth is ${now}: set "auth": { "header": …, "scheme": … } to what the service wants (its document does not say), and check computeToken`;
}

/** Whether `data` is a binding that fits `doc`: its own problems first, then the fit's. */
export function checkSuggested(data: unknown, doc: unknown, opts: FitOptions = {}): string[] {
    const own = bindingProblems(data);
    return own.length > 0 ? own : fitBinding(data as Binding, doc, opts).problems;
}
