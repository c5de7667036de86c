/**
 * The real program, under the real `pulumi` CLI (test/engine/), against a Hero Compute that
 * changes dialect under the deployed stack: today's first guess, the same
 * methods prefixed `ComputeService.`, the tracker's (keys first, `sid`,
 * `backends[]`, a data disk), then a fourth that differs in everything a binding
 * can say (`compute.vm_create` and co., no key injection, integer ids, its own
 * state words and error codes, the token in X-Api-Key). The admin's only move
 * is the binding file, given
 * to every run through `computeBinding`: a binding that does not fit stops `up`
 * at its preflight with nothing changed; `npm run preflight` lists every
 * difference and prints a binding; saved as is, it makes the next `up` pass.
 * No TypeScript file differs between the runs.
 */
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FRONT_DOOR_PORT } from "../components/hero-cli";
import { formatBinding } from "../providers/compute/bind";
import { preflightCommand } from "../scripts/preflight";
import type { PreflightReport } from "../scripts/lib/preflight-report";
import { World } from "./rehearsal/world";

const REPO = path.resolve(__dirname, "..");
/** The stack's computeToken: Bearer for the first three dialects, bare in X-Api-Key for the fourth. */
const TOKEN = "rehearsal-compute-token-7d2e";
/** A person's own key, added to dave while his VM runs on the fourth dialect. */
const DAVE_OWN = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBWDF9l2irR9lZK9SzoXUYhyRqTBBNb5mrK6r7AHCk+Z dave@laptop";
let world: World;
let binding: string;

/** Every TypeScript file of the repository, by content. */
function typescript(): Record<string, string> {
    const files = execFileSync("git", ["ls-files", "-co", "--exclude-standard", "--", "*.ts"], { cwd: REPO, encoding: "utf8" }).trim().split("\n");
    return Object.fromEntries(files.filter((f) => fs.existsSync(path.join(REPO, f))).map((f) => [f, crypto.createHash("sha256").update(fs.readFileSync(path.join(REPO, f))).digest("hex")]));
}

/** `npm run preflight -- --url <the fake> --binding <the run's binding> --only compute --json`, in process. */
async function preflight(): Promise<{ code: number; report: PreflightReport }> {
    const out: string[] = [];
    const io = { projectDir: REPO, pulumi: () => Promise.reject(new Error("no pulumi here")), out: (l: string) => out.push(l), err: (l: string) => out.push(l) };
    const code = await preflightCommand(["--url", world.compute.httpUrl, "--binding", binding, "--only", "compute", "--json"], io, { env: { COMPUTE_TOKEN: TOKEN } });
    return { code, report: JSON.parse(out.join("\n")) };
}

/** What the admin does with the report: saves the suggested binding over the run's binding file. */
function adoptSuggestion(report: PreflightReport): void {
    expect(report.compute!.suggestionProblems).toEqual([]);
    fs.writeFileSync(binding, formatBinding(report.compute!.suggestedBinding!));
}

const up = () => world.run("up", { computeBinding: binding });

function expectDeployed(user: string): void {
    const m = world.machines.get(user)!;
    expect(world.compute.vm(`rh${user}`)).toMatchObject({ state: "running", mycelium_ip: m.host });
    expect(world.compute.gateways.get(`rh${user}`)).toMatchObject({ backend: `http://${m.host}:${FRONT_DOOR_PORT}` });
    expect(m.vm.running()).toEqual(expect.arrayContaining(["hero_router", "hero_proxy", "hero_cockpit"]));
    expect(world.forge.user(user)).toBeDefined();
}

function expectGone(user: string): void {
    expect(world.compute.vm(`rh${user}`)).toBeUndefined();
    expect(world.compute.gateways.has(`rh${user}`)).toBe(false);
    expect(world.forge.user(user)).toBeUndefined();
}

const code = typescript();
const config = () => JSON.stringify(world.config({ computeBinding: binding }));
let firstConfig = "";

beforeAll(async () => {
    world = await World.start(["alice", "bob", "carol", "dave"], { dialect: "today", computeToken: TOKEN });
    binding = path.join(world.dir, "binding.json");
    // The stack starts with the repo's default binding, written for the tracker's dialect.
    fs.copyFileSync(path.join(REPO, "providers", "compute", "binding.json"), binding);
    firstConfig = config();
});

afterAll(async () => {
    await world?.stop();
});

describe.sequential("rehearsal across Hero Compute dialects: only the binding changes", { timeout: 240_000 }, () => {
    it("today's dialect: the default binding stops up at its preflight, nothing done; preflight's suggestion saved as the binding, up deploys", async () => {
        world.writeUsers([{ username: "alice" }]);
        const refused = await up();
        expect(refused.ok).toBe(false);
        const why = refused.errors.join("\n");
        expect(why).toContain("does not offer what this deployer needs");
        expect(why).toContain("getVm (get_vm): has no param sid (the binding sends our vm_id as sid)");
        expect(why).toContain("nothing was deployed");
        expect(world.compute.vms.size).toBe(0);
        expect(world.forge.user("alice")).toBeUndefined();

        const { code: exit, report } = await preflight();
        expect(exit).toBe(1);
        // Every difference the run named, the report names too.
        for (const p of report.compute!.problems) expect(why).toContain(p);
        adoptSuggestion(report);
        expect((await preflight()).code).toBe(0);

        const r = await up();
        expect(r.errors).toEqual([]);
        expectDeployed("alice");
        expect(world.compute.requests.filter((q) => q.method === "deploy_vm").map((q) => q.wire)).toEqual(["deploy_vm"]);
    });

    it("the prefixed dialect: the same binding binds (bare and prefixed names are both tried); one user replaced by another", async () => {
        world.compute.speak("prefixed");
        const before = fs.readFileSync(binding, "utf8");
        expect((await preflight()).code).toBe(0);
        world.writeUsers([{ username: "bob" }]);
        const r = await up();
        expect(r.errors).toEqual([]);
        expectDeployed("bob");
        expectGone("alice");
        const wires = new Set(world.compute.requests.map((q) => q.wire));
        for (const m of ["ComputeService.deploy_vm", "ComputeService.delete_vm", "ComputeService.deploy_webgateway", "ComputeService.delete_webgateway"]) expect(wires).toContain(m);
        expect(fs.readFileSync(binding, "utf8")).toBe(before);
    });

    it("the tracker's dialect: today's binding stops up, bob untouched; the suggestion (keys first, sid, backends[], a data disk) saved, up deploys carol and tears bob down", async () => {
        world.compute.speak("tracker");
        const refused = await up();
        expect(refused.ok).toBe(false);
        expect(refused.errors.join("\n")).toContain("deployVm (ComputeService.deploy_vm): has no param ssh_keys");
        expectDeployed("bob");

        const { code: exit, report } = await preflight();
        expect(exit).toBe(1);
        expect(report.compute!.suggestedBinding).toMatchObject({ keys: "before", backends: "list", sizeUnit: "GB" });
        adoptSuggestion(report);
        // The suggestion is the repo's default binding, which was written for this dialect.
        expect(JSON.parse(fs.readFileSync(binding, "utf8"))).toEqual(JSON.parse(fs.readFileSync(path.join(REPO, "providers", "compute", "binding.json"), "utf8")));

        world.compute.requests.length = 0;
        world.writeUsers([{ username: "carol" }]);
        const r = await up();
        expect(r.errors).toEqual([]);
        expectDeployed("carol");
        expectGone("bob");
        const carol = world.compute.requests.filter((q) => (q.method === "inject_ssh_keys" || q.method === "deploy_vm") && q.params?.name === "rhcarol");
        expect(carol.map((q) => q.wire)).toEqual(["ComputeService.inject_ssh_keys", "ComputeService.deploy_vm"]);
        expect(carol[1].params).not.toHaveProperty("ssh_keys");
        expect(world.compute.vm("rhcarol")!.ssh_keys).toHaveLength(1);
        expect(world.compute.requests.find((q) => q.method === "delete_vm")!.params).toHaveProperty("sid");
    });

    it("the fourth dialect: the tracker's binding stops up, carol untouched; the suggestion saved, with ONE hand edit (auth, which no document gives), up deploys dave and tears carol down, integer ids and all", async () => {
        world.compute.speak("next");
        const refused = await up();
        expect(refused.ok).toBe(false);
        const why = refused.errors.join("\n");
        expect(why).toContain("auth: the service refused the token on rpc.discover (Hero Compute rpc.discover failed (HTTP 401): missing or invalid token: this service wants X-Api-Key)");
        expect(why).toContain("deployVm: the live document has no method ComputeService.deploy_vm or deploy_vm");
        expectDeployed("carol");

        const { code: exit, report } = await preflight();
        expect(exit).toBe(1);
        expect(report.compute!.suggestedBinding).toMatchObject({ service: "compute", keys: "only-with", states: { Vm: { error: "failed" } }, errors: { notFound: { code: -32001 } } });
        expect(report.compute!.suggestionNotes!.every((n) => n.startsWith("guess: "))).toBe(true);
        adoptSuggestion(report);
        // The suggestion alone does not pass: the service still refuses the token, and no document says how it wants it.
        const unauthorized = await preflight();
        expect(unauthorized.code).toBe(1);
        expect(unauthorized.report.compute!.problems).toEqual([expect.stringMatching(/^auth: the service refused the token on rpc\.discover/)]);
        // The one hand edit: the auth header and scheme.
        const saved = JSON.parse(fs.readFileSync(binding, "utf8"));
        expect(saved.auth).toBeUndefined();
        fs.writeFileSync(binding, formatBinding({ ...saved, auth: { header: "X-Api-Key", scheme: "" } }));
        expect((await preflight()).code).toBe(0);

        world.compute.requests.length = 0;
        world.writeUsers([{ username: "dave" }]);
        const r = await up();
        expect(r.errors).toEqual([]);
        expectDeployed("dave");
        expectGone("carol");
        const wires = new Set(world.compute.requests.map((q) => q.wire));
        for (const m of ["compute.vm_create", "compute.vm_destroy", "compute.gateway_create", "compute.gateway_destroy"]) expect(wires).toContain(m);
        // carol's VM id, recorded as a string under the tracker's dialect, went back as the integer this one wants.
        expect(world.compute.requests.filter((q) => q.method === "delete_vm").map((q) => typeof q.params.id)).toEqual(["number"]);
        expect(world.compute.requests.every((q) => q.authorization === TOKEN)).toBe(true);
    });

    it("the fourth dialect has no key-injection method: a key added to dave is a replacement in the preview, and up replaces his VM carrying both keys", async () => {
        const before = world.compute.vm("rhdave")!;
        world.writeUsers([{ username: "dave", sshKeys: [DAVE_OWN] }]);
        const preview = await world.run("preview", { computeBinding: binding });
        expect(preview.errors).toEqual([]);
        const vmOps = preview.ops.filter((o) => o.type.endsWith("hero:Vm") && o.name.includes("dave"));
        expect(vmOps.map((o) => o.op)).toEqual(["replace"]);
        expect(world.compute.vm("rhdave")!.id).toBe(before.id);

        world.compute.requests.length = 0;
        const r = await up();
        expect(r.errors).toEqual([]);
        const after = world.compute.vm("rhdave")!;
        expect(after.id).not.toBe(before.id);
        expect(after.ssh_keys).toContain(DAVE_OWN);
        expect(world.compute.requests.some((q) => /inject|keys/.test(q.wire))).toBe(false);
        expectDeployed("dave");
    });

    it("between the runs, no TypeScript file differed and the runs' config was the same: only the binding file changed", () => {
        expect(typescript()).toEqual(code);
        expect(config()).toBe(firstConfig);
    });
});
