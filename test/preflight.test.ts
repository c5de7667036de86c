/**
 * `npm run preflight`: the pure parts (mycelium addresses, the report's text),
 * then the command against the fake Hero Compute in each dialect and the fake
 * Forgejo, with a temporary project's stack file and a recording `pulumi`:
 * one row per operation, every difference, a suggested binding that fits,
 * the Forge's version, token and feedback repo, exit codes, `--json`, secrets
 * never on a command line or in the output, nothing written.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { isDeepStrictEqual } from "util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadBinding } from "../providers/compute/bind";
import { fitBinding } from "../providers/compute/contract";
import { call } from "../providers/forge/client";
import { preflightCommand } from "../scripts/preflight";
import { checkSsh, isMyceliumAddress } from "../scripts/lib/preflight-checks";
import type { PreflightReport } from "../scripts/lib/preflight-report";
import type { CommandIo } from "../scripts/lib/command";
import { dialectDocument, FakeCompute, TODAY_BINDING_PATH } from "./fakes/compute";
import { FakeForgejo } from "./fakes/forgejo";

const REPO = path.resolve(__dirname, "..");
const MYCELIUM = { lo: [{ address: "::1", family: "IPv6" }], mycelium: [{ address: "4a7:1f2e:9c::1", family: "IPv6" }] } as unknown as ReturnType<typeof os.networkInterfaces>;
const NONE = { lo: [{ address: "127.0.0.1", family: "IPv4" }], eth0: [{ address: "fe80::1", family: "IPv6" }, { address: "2001:db8::5", family: "IPv6" }] } as unknown as ReturnType<typeof os.networkInterfaces>;

describe("pure", () => {
    it("knows a mycelium address (400::/7) from others", () => {
        expect(["400::1", "4a7:1f2e::1", "5ff:ffff::1", "0500::"].every(isMyceliumAddress)).toBe(true);
        expect(["3ff:ffff::1", "600::1", "fe80::1", "::1", "2001:db8::1", "10.0.0.4"].some(isMyceliumAddress)).toBe(false);
        expect(checkSsh(MYCELIUM)).toMatchObject({ ok: true, checks: [{ check: "mycelium", ok: true, detail: expect.stringContaining("4a7:1f2e:9c::1 on mycelium") }] });
        expect(checkSsh(NONE)).toMatchObject({ ok: false, checks: [{ ok: false, detail: expect.stringMatching(/^no interface has a mycelium address \(400::\/7\): start mycelium/) }] });
    });
});

describe("npm run preflight against the fakes", () => {
    let forge: FakeForgejo;
    let tracker: FakeCompute;
    let today: FakeCompute;
    let project: string;
    let tokenFile: string;
    const pulumiCalls: string[][] = [];

    /** A project with a stack file naming the fakes; `pulumi config get forgeToken` answers the admin token. */
    function io(out: string[], err: string[]): CommandIo {
        return {
            projectDir: project,
            pulumi: async (args) => {
                pulumiCalls.push([...args]);
                if (args[0] === "config" && args[1] === "get" && args[2] === "forgeToken") return { code: 0, stdout: `${forge.adminToken}\n` };
                if (args[0] === "stack" && args[1] === "--show-name") return { code: 0, stdout: "test\n" };
                return { code: 1, stdout: "" };
            },
            out: (l) => out.push(l),
            err: (l) => err.push(l),
        };
    }

    async function run(args: string[], interfaces = MYCELIUM, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
        const out: string[] = [];
        const err: string[] = [];
        const code = await preflightCommand(args, io(out, err), { networkInterfaces: () => interfaces, env });
        return { code, out: out.join("\n"), err: err.join("\n") };
    }

    function stackFile(values: Record<string, string>): void {
        const lines = ["config:", ...Object.entries(values).map(([k, v]) => `  hero-os-grid-deployer:${k}: ${JSON.stringify(v)}`)];
        fs.writeFileSync(path.join(project, "Pulumi.test.yaml"), lines.join("\n") + "\n");
    }

    function listing(dir: string): string[] {
        return (fs.readdirSync(dir, { recursive: true }) as string[]).sort().map((f) => `${f} ${fs.statSync(path.join(dir, f)).mtimeMs}`);
    }

    beforeAll(async () => {
        [forge, tracker, today] = await Promise.all([FakeForgejo.start(), FakeCompute.start(), FakeCompute.start({ dialect: "today" })]);
        forge.addRepo("lhumina_public/feedback");
        project = fs.mkdtempSync(path.join(os.tmpdir(), "preflight-project-"));
        fs.writeFileSync(path.join(project, "Pulumi.yaml"), "name: hero-os-grid-deployer\nruntime: nodejs\n");
        tokenFile = path.join(project, "forge-token");
        fs.writeFileSync(tokenFile, `${forge.adminToken}\n`);
    });
    afterAll(async () => {
        await Promise.all([forge?.stop(), tracker?.stop(), today?.stop()]);
        if (project) fs.rmSync(project, { recursive: true, force: true });
    });

    it("everything ready: the stack's computeUrl binds, the Forge token comes from pulumi config (never a command line), exit 0", async () => {
        stackFile({ computeUrl: tracker.httpUrl, forgeUrl: forge.url });
        pulumiCalls.length = 0;
        const before = listing(project);
        const r = await run(["--stack", "test"]);
        expect(r.code).toBe(0);
        const lines = r.out.split("\n");
        expect(lines[0]).toBe(`Hero Compute at ${tracker.httpUrl} (document from rpc.discover), binding providers/compute/binding.json`);
        for (const op of ["deployVm", "getVm", "listVms", "deleteVm", "injectKeys", "deployGateway", "getGateway", "listGateways", "deleteGateway"]) {
            expect(lines.some((l) => new RegExp(`^  ok\\s+${op}\\s+ComputeService\\.`).test(l)), op).toBe(true);
        }
        expect(r.out).toContain("The binding fits: every operation binds.");
        expect(r.out).toMatch(/ok\s+version\s+Forgejo 12\.0\.0\+fake/);
        expect(r.out).toMatch(/ok\s+admin token\s+valid, belongs to forge-admin, a site admin/);
        expect(r.out).toMatch(/ok\s+feedback repo\s+lhumina_public\/feedback exists/);
        expect(r.out).toMatch(/ok\s+mycelium\s+an interface is up with a mycelium address: 4a7:1f2e:9c::1 on mycelium/);
        expect(lines.at(-1)).toBe("preflight: ready (Hero Compute binding, Forge, SSH checked)");
        expect(pulumiCalls).toEqual([["config", "get", "forgeToken", "--stack", "test"]]);
        expect(r.out + r.err).not.toContain(forge.adminToken);
        // Read-only: nothing written in the project, and the fakes saw no changing call.
        expect(listing(project)).toEqual(before);
        expect(tracker.requests.map((q) => q.method)).toEqual(["rpc.discover"]);
        expect(forge.requests.every((q) => q.method === "GET")).toBe(true);
    });

    it("a live document that differs from the binding: every difference listed, a suggested binding that fits, exit 1; --json says the same", async () => {
        const r = await run(["--url", today.httpUrl, "--only", "compute"]);
        expect(r.code).toBe(1);
        const expected = fitBinding(loadBinding(), dialectDocument("today"), { images: ["https://hub.grid.tf/tf-official-vms/ubuntu-24.04-full.flist"] }).problems;
        expect(expected.length).toBeGreaterThan(10);
        for (const p of expected) expect(r.out).toContain(`  - ${p}`);
        expect(r.out).toContain(`Differences (${expected.length}):`);
        expect(r.out).toMatch(
            /^  DIFFERS\s+deployVm\s+deploy_vm\s+params: 5 matched; missing publicip \(our public_ip\), disk, rootfs=16; extra rootfs_size \(required\), mycelium \(required\), public_ip \(required\), ssh_keys \(required\)\s+result: 7 matched; missing sid \(our id\); extra id, rootfs_size$/m,
        );
        expect(r.out).toMatch(/^  ok\s+deleteGateway\s+delete_webgateway\s+params: 1 matched\s+result: not read or not described$/m);
        expect(r.out).toContain("Suggested binding (it fits the live document)");
        expect(r.out.split("\n").at(-1)).toBe("preflight: NOT ready: Hero Compute binding (see above)");

        const j = await run(["--url", today.httpUrl, "--only", "compute", "--json"]);
        expect(j.code).toBe(1);
        const report = JSON.parse(j.out) as PreflightReport;
        expect(report.ok).toBe(false);
        expect(report.compute!.problems).toEqual(expected);
        expect(report.compute!.operations.map((o) => o.operation)).toHaveLength(9);
        expect(report.compute!.suggestionProblems).toEqual([]);
        // The suggestion is today's binding, the one written for that dialect by hand.
        const { file: _f, ...todays } = loadBinding(TODAY_BINDING_PATH);
        expect(isDeepStrictEqual(report.compute!.suggestedBinding, todays)).toBe(true);
        // Printed in the text too, as JSON one can save.
        const printed = r.out.slice(r.out.indexOf("\n{", r.out.indexOf("Suggested binding")) + 1, r.out.indexOf("\n}\n") + 2);
        expect(JSON.parse(printed)).toEqual(report.compute!.suggestedBinding);
    });

    it("--binding checks another binding; without rpc.discover the document comes from GET /openrpc.json", async () => {
        const quiet = await FakeCompute.start({ dialect: "prefixed", discoverMethod: false });
        try {
            const r = await run(["--url", quiet.httpUrl, "--binding", TODAY_BINDING_PATH, "--only", "compute", "--json"]);
            const report = JSON.parse(r.out) as PreflightReport;
            expect(report.compute).toMatchObject({ ok: true, source: `GET ${quiet.httpUrl.replace(/\/rpc$/, "/openrpc.json")}`, binding: "test/fixtures/compute/today.binding.json", problems: [] });
            expect(report.compute!.operations.map((o) => o.method)).toContain("ComputeService.deploy_vm");
            expect(r.code).toBe(0);
        } finally {
            await quiet.stop();
        }
    });

    it("the Forge: a token that is no admin's, a refused token, a feedback repo under a user account; no mycelium; exit 1", async () => {
        forge.addUser({ login: "plainuser", email: "p@example.org", password: "pw-plain-123456" });
        const basic = { username: "plainuser", password: "pw-plain-123456" };
        const plain = (await call<{ sha1: string }>({ baseUrl: forge.url }, "POST /users/{username}/tokens", { params: { username: "plainuser" }, body: { name: "t", scopes: ["read:user"] }, basic })).body.sha1;
        stackFile({ computeUrl: tracker.httpUrl, forgeUrl: forge.url, feedbackRepo: "plainuser/feedback" });
        const r = await run(["--stack", "test", "--only", "forge,ssh"], NONE, { FORGE_TOKEN: "not-a-valid-token-4f2a" });
        expect(r.code).toBe(1);
        expect(r.out).toMatch(/failing\s+admin token\s+the Forge refuses this token \(invalid, expired or revoked\)/);
        expect(r.out).toMatch(/failing\s+mycelium\s+no interface has a mycelium address/);
        expect(r.out).not.toContain("not-a-valid-token-4f2a");
        expect(r.out).not.toContain("Hero Compute");
        const asAdmin = await run(["--stack", "test", "--only", "forge", "--forge-token-file", tokenFile]);
        expect(asAdmin.out).toMatch(/failing\s+feedback repo\s+plainuser\/feedback does not exist and plainuser is a user account, not an organization/);
        expect(asAdmin.code).toBe(1);
        stackFile({ computeUrl: tracker.httpUrl, forgeUrl: forge.url, feedbackRepo: "neworg/feedback" });
        const creatable = await run(["--stack", "test", "--only", "forge", "--forge-token-file", tokenFile]);
        expect(creatable.out).toMatch(/ok\s+feedback repo\s+neworg\/feedback does not exist yet; the first pulumi up creates the organization neworg and the repo/);
        expect(creatable.code).toBe(0);
        const notAdmin = await run(["--stack", "test", "--only", "forge"], NONE, { FORGE_TOKEN: plain });
        expect(notAdmin.out).toMatch(/failing\s+admin token\s+valid, but plainuser is no site admin/);
        expect(notAdmin.out).not.toContain(plain);
    });

    it("no Hero Compute URL, a bad command line", async () => {
        stackFile({ forgeUrl: forge.url });
        const r = await run(["--stack", "test", "--only", "compute"]);
        expect(r.code).toBe(1);
        expect(r.out).toContain("failing: no Hero Compute URL: give --url, or set computeUrl in Pulumi.test.yaml");
        const bad = await run(["--only", "dns"]);
        expect(bad.code).toBe(2);
        expect(bad.err).toContain('preflight: --only takes some of compute, forge, ssh, not "dns"');
        expect(bad.err).toContain("usage: npm run preflight");
        expect((await run(["--forge-token", "x"])).code).toBe(2); // no way to put a token on the command line
        expect(REPO).toBe(path.resolve(__dirname, ".."));
    });
});
