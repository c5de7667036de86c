/**
 * How the fake Forgejo serves one request: read the body, record the request,
 * apply an injected fault before or after the handler, authenticate as
 * Forgejo's API middleware does (token, Bearer or Basic; a user who must change
 * his password is refused), find the route and write its JSON answer. An
 * unknown route answers Forgejo's 404, a handler that throws a 500.
 */
import type * as http from "http";
import type { FakeForgejo } from "./forgejo";
import { applyFault, takeFault, type FaultQueue, type RecordedRequest } from "./forgejo-faults";
import { fail, type Answer, type Handler } from "./forgejo-http";
import type { FakeUser } from "./forgejo-model";

/** A registered route: its method, its path pattern compiled, the names of its `{params}`. */
export interface Route {
    method: string;
    re: RegExp;
    names: string[];
    handler: Handler;
}

/** Compiles a pattern like "GET /repos/{owner}/{repo}" (relative to /api/v1); `{filepath}` spans slashes, as Forgejo's `/contents/*` does. */
export function compileRoute(method: string, pattern: string, handler: Handler): Route {
    const names: string[] = [];
    const re = new RegExp(`^${pattern.replace(/\{(\w+)\}/g, (_m, n: string) => (names.push(n), n === "filepath" ? "(.+)" : "([^/]+)"))}$`);
    return { method, re, names, handler };
}

/** Serves one request on `fake` with its `routes`, taking the first of its `faults` that matches. */
export async function serve(fake: FakeForgejo, routes: Route[], faults: FaultQueue, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? "/", "http://fake");
    const path = url.pathname.replace(/^\/api\/v1/, "");
    const header = req.headers.authorization;
    const record: RecordedRequest = {
        method: req.method ?? "GET",
        path,
        auth: !header ? "none" : /^basic /i.test(header) ? "basic" : "token",
        status: 0,
    };
    fake.requests.push(record);

    const fault = takeFault(faults, record.method, path);
    const when = fault?.when ?? "before";
    if (fault && when === "before") {
        if (await applyFault(fault, res, record, fake.url)) return;
    }
    let answer: Answer;
    try {
        answer = handle(fake, routes, req, url, path, chunks);
    } catch (err) {
        answer = { status: 500, body: { message: String(err), url: fake.url } };
    }
    if (fault && when === "after") {
        if (await applyFault(fault, res, record, fake.url)) return;
    }
    record.status = answer.status;
    if (res.destroyed) return;
    res.statusCode = answer.status;
    if (answer.location !== undefined) res.setHeader("location", answer.location);
    if (answer.body !== undefined) {
        res.setHeader("content-type", "application/json;charset=utf-8");
        res.end(JSON.stringify(answer.body));
    } else {
        res.end();
    }
}

function handle(fake: FakeForgejo, routes: Route[], req: http.IncomingMessage, url: URL, path: string, chunks: Buffer[]): Answer {
    const method = req.method ?? "GET";
    const text = Buffer.concat(chunks).toString("utf8");
    let body: any = undefined;
    if (text) {
        try {
            body = JSON.parse(text);
        } catch {
            return fail(422, "invalid JSON body", fake.url);
        }
    }
    // Authentication, as Forgejo's API middleware does it.
    const header = req.headers.authorization ?? "";
    let doer: FakeUser | undefined;
    let basic = false;
    if (/^(token|bearer) /i.test(header)) {
        const value = header.replace(/^\S+ /, "");
        const tok = fake.tokens.find((t) => t.sha1 === value);
        doer = value === fake.adminToken ? fake.user("forge-admin") : tok ? [...fake.users.values()].find((u) => u.id === tok.userId) : undefined;
        if (!doer) return fail(401, "user does not exist", fake.url);
    } else if (/^basic /i.test(header)) {
        const [name, ...rest] = Buffer.from(header.slice(6), "base64").toString("utf8").split(":");
        const pass = rest.join(":");
        const u = fake.user(name) ?? [...fake.users.values()].find((x) => x.email.toLowerCase() === name.toLowerCase());
        if (!u || !u.password || u.password !== pass) return fail(401, "user's password is invalid", fake.url);
        doer = u;
        basic = true;
    }
    if (doer?.must_change_password) {
        return fail(403, `You must change your password. Change it at: ${fake.url}/user/change_password`, fake.url);
    }
    for (const r of routes) {
        const m = r.method === method ? r.re.exec(path) : null;
        if (m) {
            const params = Object.fromEntries(r.names.map((n, i) => [n, decodeURIComponent(m[i + 1])]));
            return r.handler({ req, params, query: url.searchParams, body, doer, basic });
        }
    }
    return { status: 404, body: { errors: [], message: "The target couldn't be found.", url: fake.url } };
}
