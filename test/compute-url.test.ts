/**
 * The compute token never travels in clear text: `computeUrl` must be `https://`,
 * `unix://`, or `http://` on a loopback host, as forgeUrl must. Each entry point
 * refuses anything else before any request: `pulumi up`'s settings, the providers'
 * configure and every call, preflight, audit and status. A listener on a
 * non-loopback address of this machine proves nothing reached it.
 */
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSettings } from "../components/settings";
import { call, checkComputeUrl, settingsFrom } from "../providers/compute/client";
import { checkForgeUrl } from "../providers/forge/client";
import { insecureUrlProblem } from "../providers/url-rules";
import { runAudit } from "../scripts/audit";
import { probeVm } from "../scripts/lib/probes";
import { loadBinding } from "../providers/compute/bind";
import { preflightCommand } from "../scripts/preflight";
import type { CommandIo } from "../scripts/lib/command";

const TOKEN = "compute-token-that-must-not-travel";
/** A non-loopback IPv4 address of this machine, or undefined when it has none. */
const EXTERNAL = Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === "IPv4" && !i.internal)?.address;

describe("the rule, pure", () => {
    it("accepts https, unix and http on loopback; refuses http elsewhere, look-alike hosts and other schemes", () => {
        for (const ok of ["https://compute.example.org/rpc", "unix:///run/hero/rpc.sock", "http://127.0.0.1:9988/rpc", "http://localhost/rpc", "http://[::1]:80/rpc"]) {
            expect(checkComputeUrl(ok)).toBe(ok);
        }
        for (const bad of ["http://192.0.2.2:18777/", "http://127.0.0.1.evil.example/rpc", "http://compute.example.org/rpc", "ws://127.0.0.1/rpc", "ftp://x/"]) {
            expect(() => checkComputeUrl(bad)).toThrow(/^config hero-os-grid-deployer:computeUrl must use https:\/\/, unix:\/\/ or http:\/\/ on a loopback host .*clear text/);
        }
        expect(() => checkComputeUrl("not a url")).toThrow(/is not a URL/);
        expect(insecureUrlProblem("unix:///run/x.sock", "forgeUrl", { unix: false })).toMatch(/must use https:\/\//);
        expect(() => checkForgeUrl("http://forge.example.org")).toThrow(/forgeUrl must use https:\/\//);
    });
});

describe("every entry point refuses a clear-text computeUrl before any request", () => {
    let listener: http.Server | undefined;
    let url = "http://192.0.2.2:18777/";
    const received: string[] = [];
    let project: string;

    beforeAll(async () => {
        if (EXTERNAL) {
            listener = http.createServer((req, res) => {
                received.push(`${req.method} ${req.url} ${req.headers.authorization ?? ""}`);
                res.end("{}");
            });
            await new Promise<void>((resolve) => listener!.listen(0, EXTERNAL, resolve));
            url = `http://${EXTERNAL}:${(listener.address() as { port: number }).port}/`;
        }
        project = fs.mkdtempSync(path.join(os.tmpdir(), "compute-url-"));
        fs.writeFileSync(path.join(project, "Pulumi.yaml"), "name: hero-os-grid-deployer\nruntime: nodejs\n");
        fs.writeFileSync(path.join(project, "Pulumi.test.yaml"), `config:\n  hero-os-grid-deployer:computeUrl: ${JSON.stringify(url)}\n`);
    });
    afterAll(async () => {
        await new Promise((resolve) => (listener ? listener.close(resolve) : resolve(undefined)));
        fs.rmSync(project, { recursive: true, force: true });
    });

    function io(out: string[], err: string[], asked: string[][]): CommandIo {
        return {
            projectDir: project,
            pulumi: async (args) => {
                asked.push([...args]);
                return { code: 1, stdout: "" };
            },
            out: (l) => out.push(l),
            err: (l) => err.push(l),
        };
    }

    it("pulumi up: the program's settings stop with a clear error", () => {
        const values: Record<string, string> = { forgeUrl: "https://forge.example.org", computeUrl: url };
        const config = { get: (k: string) => values[k], require: (k: string) => values[k], getNumber: () => undefined, getBoolean: () => undefined };
        expect(() => readSettings(config as unknown as pulumi.Config)).toThrow(/computeUrl must use https:\/\/, unix:\/\/ or http:\/\/ on a loopback host/);
    });

    it("the providers: configure refuses it, and a call made anyway sends nothing", async () => {
        expect(() => settingsFrom({ get: (k) => (k === "hero-os-grid-deployer:computeUrl" ? url : undefined) })).toThrow(/clear text/);
        await expect(call({ url, token: TOKEN }, "list_vms")).rejects.toThrow(/the Hero Compute URL must use https/);
        expect(received).toEqual([]);
    });

    it("preflight: the compute section fails naming --url, and the token is neither read nor sent", async () => {
        const out: string[] = [];
        const asked: string[][] = [];
        const code = await preflightCommand(["--url", url, "--only", "compute"], io(out, [], asked), { env: { COMPUTE_TOKEN: TOKEN } });
        expect(code).toBe(1);
        expect(out.join("\n")).toMatch(/--url must use https:\/\/, unix:\/\/ or http:\/\/ on a loopback host/);
        expect(received).toEqual([]);
    });

    it("audit: stops before reading the stack's state or secrets", async () => {
        const err: string[] = [];
        const asked: string[][] = [];
        const code = await runAudit(["--stack", "test"], io([], err, asked), { confirm: null });
        expect(code).not.toBe(0);
        expect(err.join("\n")).toMatch(/computeUrl in Pulumi\.test\.yaml must use https:\/\//);
        expect(asked.filter((a) => a[0] !== "stack" || a[1] === "export")).toEqual([]);
        expect(received).toEqual([]);
    });

    it("status: a clear-text computeEndpoint in the outputs is a row error, and get_vm is not sent", async () => {
        const probe = await probeVm(url, "005k", "alice", { timeoutMs: 1000, binding: loadBinding() });
        expect(probe.error).toMatch(/^the computeEndpoint output must use https:\/\//);
        expect(received).toEqual([]);
    });
});

describe("booksRepo, cloned as root on every VM", () => {
    const settings = (booksRepo: string) => {
        const values: Record<string, string> = { forgeUrl: "https://forge.example.org", computeUrl: "https://compute.example.org/rpc", booksRepo };
        return () => readSettings({ get: (k: string) => values[k], require: (k: string) => values[k], getNumber: () => undefined, getBoolean: () => undefined } as unknown as pulumi.Config);
    };

    it("must be https: http:// and git:// are refused at config time", () => {
        expect(settings("http://forge.example.org/x/books.git")).toThrow(/booksRepo must be an https:\/\/ Git URL/);
        expect(settings("git://forge.example.org/x/books.git")).toThrow(/booksRepo must be an https:\/\/ Git URL/);
    });
});
