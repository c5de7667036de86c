/**
 * Terminal escapes never reach the admin's terminal: what status, handout, audit
 * and preflight print from outside the program (stack outputs a VM's root can
 * write, Hero Compute's and the Forge's answers) has every control character
 * replaced by its visible escape, and their JSON output escapes them.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handout } from "../scripts/handout";
import { runAudit } from "../scripts/audit";
import { preflightCommand } from "../scripts/preflight";
import { status } from "../scripts/status";
import type { CommandIo } from "../scripts/lib/command";
import type { PulumiRunner } from "../scripts/lib/pulumi-cli";
import { printable, terminalJson } from "../scripts/lib/terminal";
import { FakeCompute, TODAY_BINDING_PATH } from "./fakes/compute";

/** A clipboard write (OSC 52), a bell, a screen clear, a C1 CSI and a right-to-left override. */
const EVIL = "\u001b]52;c;ZXZpbA==\u0007\u001b[2J\u009b31m\u202e";
/** Any control or bidi character but newline and tab: none may be printed raw. */
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

let compute: FakeCompute;
let project: string;
let vmId: string;

function environments() {
    return {
        alice: {
            cockpitUrl: `https://127.0.0.1:1/hero_cockpit/${EVIL}`,
            forgeUrl: `https://forge.example.org/${EVIL}`,
            forgeLogin: `alice${EVIL}`,
            vmId,
            computeEndpoint: compute.httpUrl,
            node: 7,
            myceliumIp: "400:1234::1",
            gatewayFqdn: "127.0.0.1",
            services: ["proc", "cockpit"],
            expires: "2099-01-01",
            bootstrap: `health: ok${EVIL}`,
            forgeTokenNote: `note${EVIL}`,
        },
    };
}

function recorder(exportText = "{}"): { io: CommandIo; out: string[]; err: string[] } {
    const out: string[] = [];
    const err: string[] = [];
    const pulumi: PulumiRunner = async (args) => {
        if (args[0] === "stack" && args[1] === "--show-name") return { code: 0, stdout: "dev\n" };
        if (args[0] === "stack" && args[1] === "output") return { code: 0, stdout: JSON.stringify({ environments: environments(), credentials: "[secret]" }) };
        if (args[0] === "stack" && args[1] === "export") return { code: 0, stdout: exportText };
        return { code: 1, stdout: "" };
    };
    return { io: { projectDir: project, pulumi, out: (l) => out.push(l), err: (l) => err.push(l) }, out, err };
}

beforeAll(async () => {
    compute = await FakeCompute.start({ dialect: "today" });
    await compute.invoke("deploy_vm", { name: "devalice", flist: "https://hub.grid.tf/x.flist", cpu: 1, memory: 2048, rootfs_size: 15360, mycelium: true, public_ip: false, ssh_keys: [] });
    const vm = compute.vm("devalice")!;
    vmId = vm.id;
    vm.state = `running${EVIL}` as never; // what Hero Compute answers is from outside too
    project = fs.mkdtempSync(path.join(os.tmpdir(), "terminal-"));
    fs.writeFileSync(path.join(project, "Pulumi.yaml"), "name: hero-os-grid-deployer\nruntime: nodejs\n");
    fs.writeFileSync(path.join(project, "Pulumi.dev.yaml"), `config:\n  hero-os-grid-deployer:computeUrl: ${compute.httpUrl}\n  hero-os-grid-deployer:computeBinding: ${TODAY_BINDING_PATH}\n  hero-os-grid-deployer:namePrefix: dev\n`);
});
afterAll(async () => {
    await compute?.stop();
    fs.rmSync(project, { recursive: true, force: true });
});

describe("printable, pure", () => {
    it("replaces each control and bidi character by its visible escape, keeps newline and tab, and JSON escapes them", () => {
        expect(printable(`health: ok${EVIL}\tdone\n`)).toBe("health: ok\\x1b]52;c;ZXZpbA==\\x07\\x1b[2J\\x9b31m\\u202e\tdone\n");
        const json = terminalJson({ line: EVIL });
        expect(json).not.toMatch(RAW);
        expect(JSON.parse(json)).toEqual({ line: EVIL });
    });
});

describe("the admin commands", () => {
    it("regression: status prints the bootstrap line a VM's root wrote, and Hero Compute's state, with no escape (was printed raw); only its own colours", async () => {
        for (const colour of [false, true]) {
            const r = recorder();
            await status(["--stack", "dev", "--timeout", "1"], r.io, { colour, progress: null, today: "2026-01-01" });
            const text = [...r.out, ...r.err].join("\n");
            expect(text.replace(/\u001b\[[0-9;]*m/g, colour ? "" : "\u0000")).not.toMatch(RAW);
            expect(text).toContain("\\x1b]52;c;");
        }
        const r = recorder();
        await status(["--stack", "dev", "--json", "--timeout", "1"], r.io, { colour: false, progress: null });
        expect(r.out.join("\n")).not.toMatch(RAW);
        expect(JSON.parse(r.out.join("\n")).environments[0].bootstrap).toBe(`health: ok${EVIL}`);
    });

    it("handout prints the outputs with no escape", async () => {
        const r = recorder();
        await handout(["alice", "--stack", "dev"], r.io);
        expect(r.out.join("\n")).toContain("\\x1b]52");
        expect([...r.out, ...r.err].join("\n")).not.toMatch(RAW);
    });

    it("audit prints what it read with no escape, even in its error", async () => {
        const r = recorder(`not json ${EVIL}`);
        expect(await runAudit(["--stack", "dev"], r.io, { confirm: null })).toBe(1);
        expect([...r.out, ...r.err].join("\n")).not.toMatch(RAW);
    });

    it("preflight prints Hero Compute's document with no escape, in text and in JSON", async () => {
        const odd = await FakeCompute.start({ dialect: "today", discover: (doc) => ({ ...doc, methods: doc.methods.map((m: any) => (m.name === "deploy_vm" ? { ...m, params: [...m.params, { name: `extra${EVIL}`, required: true, schema: { type: "string" } }] } : m)) }) });
        try {
            for (const json of [[], ["--json"]]) {
                const r = recorder();
                await preflightCommand(["--url", odd.httpUrl, "--binding", TODAY_BINDING_PATH, "--only", "compute", ...json], r.io, { env: {} });
                const text = [...r.out, ...r.err].join("\n");
                expect(text).toMatch(/extra(\\x1b|\\u001b)/);
                expect(text).not.toMatch(RAW);
            }
        } finally {
            await odd.stop();
        }
    });
});
