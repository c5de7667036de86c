import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import * as http from "http";
import type { AddressInfo } from "net";
import {
    ForgeClientOptions,
    ForgeError,
    call,
    checkForgeUrl,
    createUser,
    getUser,
    listTokens,
    createToken,
    redact,
} from "../providers/forge/client";
import { FakeForgejo } from "./fakes/forgejo";

let fake: FakeForgejo;
let c: ForgeClientOptions;

beforeAll(async () => {
    fake = await FakeForgejo.start();
});
afterAll(async () => {
    await fake.stop();
});
beforeEach(() => {
    fake.clearFaults();
    c = { baseUrl: fake.url, token: fake.adminToken, timeoutMs: 2_000, retries: 3, retryBaseMs: 1 };
});

async function failure(p: Promise<unknown>): Promise<ForgeError> {
    const err = await p.then(
        () => undefined,
        (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ForgeError);
    return err as ForgeError;
}

describe("call", () => {
    it("answers 2xx with the parsed body, and sends the admin token", async () => {
        const res = await call<{ login: string }>(c, "GET /users/{username}", { params: { username: "forge-admin" } });
        expect(res.status).toBe(200);
        expect(res.body.login).toBe("forge-admin");
        expect(fake.requests.at(-1)?.auth).toBe("token");
    });

    it("turns a 404 into a ForgeError naming the route, the status and Forgejo's message", async () => {
        const err = await failure(call(c, "GET /users/{username}", { params: { username: "nobody" } }));
        expect(err.status).toBe(404);
        expect(err.route).toBe("GET /users/{username}");
        expect(err.message).toBe("Forge GET /users/{username} answered 404: The target couldn't be found.");
    });

    it("never retries a 4xx", async () => {
        const before = fake.count("GET", "/users/ghost");
        await failure(call(c, "GET /users/{username}", { params: { username: "ghost" } }));
        expect(fake.count("GET", "/users/ghost") - before).toBe(1);
    });

    it("retries 500s and converges", async () => {
        fake.inject("GET", "/users/forge-admin", { kind: "status", status: 500 }, 2);
        const before = fake.count("GET", "/users/forge-admin");
        const res = await call(c, "GET /users/{username}", { params: { username: "forge-admin" } });
        expect(res.status).toBe(200);
        expect(fake.count("GET", "/users/forge-admin") - before).toBe(3);
    });

    it("retries a connection reset and converges", async () => {
        fake.inject("GET", "/users/forge-admin", { kind: "reset" }, 1);
        const res = await call(c, "GET /users/{username}", { params: { username: "forge-admin" } });
        expect(res.status).toBe(200);
    });

    it("retries 429 honouring Retry-After", async () => {
        fake.inject("GET", "/users/forge-admin", { kind: "status", status: 429, retryAfterSeconds: 0 }, 1);
        const res = await call(c, "GET /users/{username}", { params: { username: "forge-admin" } });
        expect(res.status).toBe(200);
    });

    it("gives up after the bounded number of attempts with a clear message", async () => {
        fake.inject("GET", "/users/forge-admin", { kind: "status", status: 503 }, 10);
        const before = fake.count("GET", "/users/forge-admin");
        const err = await failure(call({ ...c, retries: 2 }, "GET /users/{username}", { params: { username: "forge-admin" } }));
        expect(err.status).toBe(503);
        expect(err.message).toContain("gave up after 3 attempts");
        expect(fake.count("GET", "/users/forge-admin") - before).toBe(3);
    });

    it("times out a slow answer, says what it waited for, and retries it", async () => {
        fake.inject("GET", "/version", { kind: "slow", ms: 400 }, 1);
        const res = await call({ ...c, timeoutMs: 100 }, "GET /version");
        expect(res.status).toBe(200);
        fake.inject("GET", "/version", { kind: "slow", ms: 400 }, 5);
        const err = await failure(call({ ...c, timeoutMs: 100, retries: 1 }, "GET /version"));
        expect(err.status).toBe(0);
        expect(err.message).toMatch(/no answer within 100 ms/);
    });

    it("does not blind-retry a POST (a create is made safe by looking up first)", async () => {
        fake.inject("POST", "/admin/users", { kind: "status", status: 502 }, 1);
        const before = fake.count("POST", "/admin/users");
        const err = await failure(createUser(c, { username: "postonce", email: "postonce@x.test", password: "a-long-password-1" }));
        expect(err.status).toBe(502);
        expect(fake.count("POST", "/admin/users") - before).toBe(1);
    });

    it("authenticates with Basic auth when asked, and mints a token only that way", async () => {
        fake.addUser({ login: "basicuser", email: "basic@x.test", password: "basic-password-1" });
        const basic = { username: "basicuser", password: "basic-password-1" };
        const tok = await createToken(c, basic, "t1", ["read:user"]);
        expect(tok.sha1).toMatch(/^[0-9a-f]{40}$/);
        expect((await listTokens(c, basic)).map((t) => t.name)).toEqual(["t1"]);
        const err = await failure(call(c, "POST /users/{username}/tokens", { params: { username: "basicuser" }, body: { name: "t2", scopes: ["read:user"] } }));
        expect(err.status).toBe(401);
    });
});

describe("credentials never appear in errors", () => {
    it("redacts the admin token and Basic credentials from messages, JSON and inspection", async () => {
        const secret = "s3cr3t-admin-token-value";
        const server = http.createServer((req, res) => {
            res.statusCode = 400;
            res.end(JSON.stringify({ message: `bad header ${req.headers.authorization}` }));
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        try {
            const e1 = await failure(call({ baseUrl: url, token: secret }, "GET /version"));
            const e2 = await failure(call({ baseUrl: url }, "GET /user", { basic: { username: "u", password: "pa55word-xyz" } }));
            for (const e of [e1, e2]) {
                const printed = `${e.message} ${e.stack} ${JSON.stringify(e)} ${require("util").inspect(e)}`;
                expect(printed).not.toContain(secret);
                expect(printed).not.toContain("pa55word-xyz");
                expect(printed).not.toContain(Buffer.from("u:pa55word-xyz").toString("base64"));
                expect(printed).toContain("[redacted]");
            }
        } finally {
            await new Promise((r) => server.close(r));
        }
    });

    it("regression: a message repeating the admin token and the password bare, with no auth-header shape around them, is masked by value", async () => {
        const token = "0f9e8d7c6b5a49382716adminTOKEN";
        const password = "Hunter2-correct-Horse-77";
        // Forgejo echoing what it was sent, unprefixed: only masking by value can catch these.
        const server = http.createServer((req, res) => {
            res.statusCode = 422;
            const chunks: Buffer[] = [];
            req.on("data", (c) => chunks.push(c));
            req.on("end", () => res.end(JSON.stringify({ message: `invalid: ${token}|${password}|${JSON.parse(Buffer.concat(chunks).toString() || "{}").password ?? ""}|${token}` })));
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        try {
            const e1 = await failure(call({ baseUrl: url, token }, "PATCH /admin/users/{username}", { params: { username: "u" }, body: { password } }));
            const e2 = await failure(call({ baseUrl: url, token }, "GET /user", { basic: { username: "u", password } }));
            for (const e of [e1, e2]) {
                const printed = `${e.message} ${e.stack} ${JSON.stringify(e)} ${require("util").inspect(e)}`;
                expect(printed).not.toContain(token);
                expect(printed).not.toContain(password);
                expect(printed).toMatch(/invalid: \[redacted\]\|/);
            }
        } finally {
            await new Promise((r) => server.close(r));
        }
    });

    it("redact() also masks anything shaped like an auth header", () => {
        expect(redact("Authorization: token abcdef0123456789")).toBe("Authorization: token [redacted]");
        expect(redact("Basic dTpwYXNzd29yZA==")).toBe("Basic [redacted]");
    });
});

describe("checkForgeUrl", () => {
    it("requires HTTPS except for loopback", () => {
        expect(checkForgeUrl("https://forge.ourworld.tf/")).toBe("https://forge.ourworld.tf");
        expect(checkForgeUrl("https://forge.ourworld.tf/api/v1")).toBe("https://forge.ourworld.tf");
        expect(checkForgeUrl("http://127.0.0.1:3000")).toBe("http://127.0.0.1:3000");
        expect(checkForgeUrl("http://localhost:3000")).toBe("http://localhost:3000");
        expect(checkForgeUrl("http://[::1]:3000")).toBe("http://[::1]:3000");
        expect(() => checkForgeUrl("http://forge.ourworld.tf")).toThrow(/must use https/);
        expect(() => checkForgeUrl("http://127.0.0.1.evil.example")).toThrow(/must use https/);
        expect(() => checkForgeUrl("https://admin:pw@forge.example")).toThrow(/must not carry credentials/);
        expect(() => checkForgeUrl(undefined)).toThrow(/forgeUrl is not set/);
    });

    it("refuses a plain-http non-loopback Forge before sending anything", async () => {
        const err = await call({ baseUrl: "http://forge.example.invalid", token: "t" }, "GET /version").catch((e: Error) => e);
        expect((err as Error).message).toMatch(/must use https/);
    });
});

describe("helpers", () => {
    it("getUser answers undefined for a missing user", async () => {
        expect(await getUser(c, "missing-user")).toBeUndefined();
        expect((await getUser(c, "FORGE-ADMIN"))?.login).toBe("forge-admin");
    });
});
