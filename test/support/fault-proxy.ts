/**
 * A small HTTP proxy on 127.0.0.1, port 0, in front of a real Forgejo: it
 * passes every request through, and `inject()` makes the next matching ones
 * fail as the fake Forgejo's faults do (test/fakes/forgejo.ts `Fault`): a 5xx
 * or 429 answer, a reset connection or a slow answer, either before Forgejo
 * saw the request or after it did the work (the answer is lost, the change
 * is made). So the retry and lost-answer paths run against the real server.
 */
import * as http from "http";
import type { AddressInfo, Socket } from "net";
import { applyFault, takeFault, type Fault, type FaultQueue, type RecordedRequest } from "../fakes/forgejo";

export class FaultProxy {
    readonly requests: RecordedRequest[] = [];
    url = "";
    private readonly faults: FaultQueue = [];
    private readonly sockets = new Set<Socket>();
    private server!: http.Server;

    private constructor(private readonly upstream: URL) {}

    /** Starts a proxy to `upstream` (e.g. a RealForgejo's url). */
    static async start(upstream: string): Promise<FaultProxy> {
        const proxy = new FaultProxy(new URL(upstream));
        proxy.server = http.createServer((req, res) => void proxy.serve(req, res));
        proxy.server.on("connection", (s: Socket) => {
            proxy.sockets.add(s);
            s.on("close", () => proxy.sockets.delete(s));
        });
        await new Promise<void>((resolve) => proxy.server.listen(0, "127.0.0.1", resolve));
        proxy.url = `http://127.0.0.1:${(proxy.server.address() as AddressInfo).port}`;
        return proxy;
    }

    async stop(): Promise<void> {
        for (const s of this.sockets) s.destroy();
        await new Promise<void>((resolve) => this.server.close(() => resolve()));
    }

    /** Makes the next `times` requests matching `method` and `path` (relative to /api/v1, no query) fail as `fault` says. */
    inject(method: string | undefined, path: RegExp | string, fault: Fault, times = 1): void {
        const re = typeof path === "string" ? new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`) : path;
        this.faults.push({ method, path: re, fault, times });
    }

    clearFaults(): void {
        this.faults.length = 0;
    }

    /** How many requests matching `method` and `path` reached the proxy. */
    count(method: string, path?: RegExp | string): number {
        const re = path === undefined ? /.*/ : typeof path === "string" ? new RegExp(`^${path}$`) : path;
        return this.requests.filter((r) => r.method === method && re.test(r.path)).length;
    }

    private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const path = new URL(req.url ?? "/", "http://proxy").pathname.replace(/^\/api\/v1/, "");
        const header = req.headers.authorization;
        const record: RecordedRequest = { method: req.method ?? "GET", path, auth: !header ? "none" : /^basic /i.test(header) ? "basic" : "token", status: 0 };
        this.requests.push(record);
        const fault = takeFault(this.faults, record.method, path);
        const when = fault?.when ?? "before";
        if (fault && when === "before" && (await applyFault(fault, res, record, this.url))) return;
        let answer: { status: number; headers: http.IncomingHttpHeaders; body: Buffer };
        try {
            answer = await this.forward(req, Buffer.concat(chunks));
        } catch (err) {
            answer = { status: 502, headers: { "content-type": "application/json" }, body: Buffer.from(JSON.stringify({ message: `proxy: ${(err as Error).message}` })) };
        }
        if (fault && when === "after" && (await applyFault(fault, res, record, this.url))) return;
        record.status = answer.status;
        if (res.destroyed) return;
        const { connection: _c, "transfer-encoding": _t, "keep-alive": _k, ...headers } = answer.headers;
        res.writeHead(answer.status, headers);
        res.end(answer.body);
    }

    private forward(req: http.IncomingMessage, body: Buffer): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
        return new Promise((resolve, reject) => {
            const up = http.request(
                { host: this.upstream.hostname, port: this.upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: this.upstream.host, "content-length": String(body.length) } },
                (r) => {
                    const parts: Buffer[] = [];
                    r.on("data", (d: Buffer) => parts.push(d));
                    r.on("end", () => resolve({ status: r.statusCode ?? 502, headers: r.headers, body: Buffer.concat(parts) }));
                    r.on("error", reject);
                },
            );
            up.on("error", reject);
            up.end(body);
        });
    }
}
