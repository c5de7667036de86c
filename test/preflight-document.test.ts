/**
 * The preflight reads the whole live document: the method prefix, renamed
 * methods, param and result types, the state enums, the errors, every required
 * param. Pure tests of the fit and the suggestion against the fourth dialect's
 * document (and variants of it), the binding's own rules for older files, and
 * one run of `npm run preflight` against a service that refuses the token.
 */
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { type Binding, bindingProblems, loadBinding, methodCandidates } from "../providers/compute/bind";
import { checkSuggested, fitBinding, suggestBinding } from "../providers/compute/contract";
import { preflightCommand } from "../scripts/preflight";
import type { PreflightReport } from "../scripts/lib/preflight-report";
import { dialectDocument, FakeCompute, TODAY_BINDING_PATH } from "./fakes/compute";

const NEXT_BINDING_PATH = path.resolve(__dirname, "fixtures", "compute", "next.binding.json");
const IMAGES = { images: ["https://hub.grid.tf/tf-official-vms/ubuntu-24.04-full.flist"] };
const binding = (file?: string): Binding => {
    const { file: _f, ...b } = loadBinding(file);
    return JSON.parse(JSON.stringify(b));
};
const next = () => dialectDocument("next");

describe("the suggestion for a dialect that differs in everything", () => {
    it("from the default binding and from today's: the fourth dialect's binding, all but auth (which no document gives), and it passes its own validation", () => {
        const { auth: _a, comment: _c, ...want } = binding(NEXT_BINDING_PATH);
        for (const start of [binding(), binding(TODAY_BINDING_PATH)]) {
            const s = suggestBinding(start, next(), IMAGES);
            const { comment: _sc, ...got } = s.binding;
            expect(got).toEqual(want);
            expect(checkSuggested(s.binding, next(), IMAGES)).toEqual([]);
            expect(bindingProblems(s.binding)).toEqual([]);
        }
        // What it found on its own: the prefix, renamed methods, no key injection, integer ids, state maps, error codes, the gateway node.
        expect(want).toMatchObject({
            service: "compute",
            keys: "only-with",
            operations: { getVm: { method: "compute.vm_info", params: { vm_id: "id" }, types: { vm_id: "integer" } }, deployGateway: { params: { node_id: "node", vm_id: "vm" } } },
            states: { Vm: { pending: "deploying", up: "running", halted: "stopped", error: "failed" }, Gateway: { pending: "deploying", active: "ready", error: "failed" } },
            errors: { notFound: { code: -32001 }, nameTaken: { code: -32002 }, nameExists: { code: -32003 } },
        });
        expect(want.operations).not.toHaveProperty("injectKeys");
    });

    it("marks every guess as a guess, with the document's evidence", () => {
        const { notes } = suggestBinding(binding(), next(), IMAGES);
        const guesses = notes.filter((n) => n.startsWith("guess: "));
        expect(guesses).toEqual(
            expect.arrayContaining([
                'guess: service "compute": 8 of the document\'s 8 methods start with compute.',
                "guess: getVm is compute.vm_info, by the words in its name",
                'guess: keys "only-with": the document has no key-injection method, and compute.vm_create takes the keys (authorized_keys); a key change then replaces the VM',
                "guess: deployVm: rootfs_mb is required and none of ours goes there; the suggestion sends the document's default 8192: check it",
                'guess: states.Vm maps "pending" to deploying, "up" to running, "halted" to stopped, "error" to failed, by the words (the enum of status in compute.vm_info\'s result: pending, up, halted, error)',
                'guess: errors.notFound is code -32001: the document\'s error NotFound ("No such workload"), by its name and message',
                'guess: operations.getVm.types.vm_id "integer": the document types compute.vm_info\'s id as integer',
            ]),
        );
        expect(notes.filter((n) => !n.startsWith("guess: "))).toEqual([]);
    });

    it("a state word it cannot place is marked, and the fit says the value map does not place it", () => {
        const doc = next();
        doc.components.schemas.Vm.properties.status.enum.push("migrating");
        const s = suggestBinding(binding(), doc, IMAGES);
        expect(s.notes).toContain(
            'states.Vm: "migrating" (the enum of status in compute.vm_info\'s result) could not be placed: map it by hand to one of deploying, running, stopped, failed; until then a VM in that state stops up with an error naming it',
        );
        expect(checkSuggested(s.binding, doc, IMAGES)).toEqual([
            "Vm states: the enum of status in compute.vm_info's result lists \"migrating\", which states.Vm does not map: map each to one of deploying, running, stopped, failed under states.Vm",
        ]);
    });

    it("a required param the binding does not send: the document's default is used and said; with none, the note and the fit say the document gives none", () => {
        const doc = next();
        delete doc.methods.find((m: any) => m.name === "compute.vm_create").params.find((p: any) => p.name === "rootfs_mb").schema.default;
        const s = suggestBinding(binding(), doc, IMAGES);
        expect(s.notes).toContain("deployVm: rootfs_mb is required and none of ours goes there, and the document gives no default or example: give it a value under operations.deployVm.constants");
        expect(checkSuggested(s.binding, doc, IMAGES)).toEqual([
            "deployVm (compute.vm_create): requires param rootfs_mb, which the binding does not send (map one of our params to it, or give it a value under constants; the document gives no default or example)",
        ]);
    });
});

describe("the fit compares values, not only names", () => {
    it("an id typed integer by the document, sent as our string, is a difference naming the edit", () => {
        const b = binding(NEXT_BINDING_PATH);
        delete b.operations.deleteVm.types;
        expect(fitBinding(b, next()).problems).toEqual(['deleteVm (compute.vm_destroy): param id is of type integer, but the binding sends our vm_id as a string (set operations.deleteVm.types.vm_id to "integer")']);
    });

    it("state words the binding's value map does not place, and the document's error codes the binding would not recognise", () => {
        const b = binding(NEXT_BINDING_PATH);
        delete b.states;
        delete b.errors;
        expect(fitBinding(b, next()).problems).toEqual([
            'Vm states: the enum of status in compute.vm_info\'s result lists "pending", "up", "halted", "error", which the binding (no states.Vm: ours as they are) does not map: map each to one of deploying, running, stopped, failed under states.Vm',
            'Gateway states: the enum of status in compute.gateway_info\'s result lists "pending", "active", "error", which the binding (no states.Gateway: ours as they are) does not map: map each to one of deploying, ready, failed under states.Gateway',
            'errors: the document\'s NotFound (-32001, "No such workload") reads as notFound, but the binding takes {"code":-32004} for it (set errors.notFound to { "code": -32001 })',
            'errors: the document\'s NameTaken (-32002, "Gateway name is reserved on the grid by someone else") reads as nameTaken, but the binding takes {"code":-32010} for it (set errors.nameTaken to { "code": -32002 })',
            'errors: the document\'s NameExists (-32003, "A workload with this name already exists") reads as nameExists, but the binding takes {"code":-32011} for it (set errors.nameExists to { "code": -32003 })',
        ]);
    });

    it("an error named by its message, not its code, fits", () => {
        const b = binding(NEXT_BINDING_PATH);
        b.errors = { ...b.errors, notFound: { message: "no such" } };
        expect(fitBinding(b, next()).problems).toEqual([]);
    });
});

describe("method names", () => {
    it("regression: a method written with another prefix is tried as written, never as <service>.<prefix>.<method>", () => {
        expect(methodCandidates("compute.vm_create", "ComputeService")).toEqual(["compute.vm_create"]);
        expect(methodCandidates("ComputeService.deploy_vm", "ComputeService")).toEqual(["ComputeService.deploy_vm", "deploy_vm"]);
        expect(methodCandidates("deploy_vm", "ComputeService")).toEqual(["deploy_vm", "ComputeService.deploy_vm"]);
        expect(methodCandidates("deploy_vm", "")).toEqual(["deploy_vm"]);
        const b = binding(NEXT_BINDING_PATH);
        b.service = "ComputeService";
        expect(fitBinding(b, next()).problems).toEqual([]);
    });
});

describe("older binding files", () => {
    it("one written before states, errors, auth, types and keys only-with still loads and fits as before", () => {
        const old = JSON.parse(fs.readFileSync(TODAY_BINDING_PATH, "utf8"));
        expect(Object.keys(old)).toEqual(["comment", "service", "keys", "backends", "sizeUnit", "images", "operations", "results"]);
        expect(bindingProblems(old)).toEqual([]);
        expect(fitBinding(old, dialectDocument("today")).problems).toEqual([]);
    });

    it("what an admin might write instead fails with the exact edit to make", () => {
        const b = binding(NEXT_BINDING_PATH) as any;
        expect(bindingProblems({ ...b, keys: "none" })).toEqual(['keys "none" is not known: write "keys": "only-with" (deploy_vm carries them, nothing adds them later) and leave operations.injectKeys out']);
        expect(bindingProblems({ ...b, errors: { notFound: -32001 } })).toEqual(['errors.notFound must be an object: write "notFound": { "code": -32001 }']);
        expect(bindingProblems({ ...b, auth: "X-Api-Key" })).toEqual(['auth must be an object: write "auth": { "header": "X-Api-Key", "scheme": "" }']);
        expect(bindingProblems({ ...b, operations: { ...b.operations, injectKeys: { method: "x", params: { name: "name", ssh_keys: "k" } } } })).toEqual([
            'operations.injectKeys must be left out: keys are "only-with" (no key-injection method); remove it, or set "keys": "with" if the service can add keys to a VM',
        ]);
        expect(bindingProblems({ ...b, keys: "with" })).toEqual(['operations.injectKeys is missing: name the service\'s key-injection method, or set "keys": "only-with" if it has none']);
        expect(bindingProblems({ ...b, states: { Vm: { up: "alive" } } })).toEqual(['states.Vm.up must be one of ours (deploying, running, stopped, failed), not "alive"']);
    });
});

describe("npm run preflight against a service that refuses the token", () => {
    it("regression: a 401 with a JSON body is reported with its message (was \"rpc.discover failed (unknown): no message\"), and the binding's auth is named as what to set", async () => {
        const fake = await FakeCompute.start({ dialect: "next", token: "next-key-3c9e" });
        try {
            const out: string[] = [];
            const io = { projectDir: path.resolve(__dirname, ".."), pulumi: () => Promise.reject(new Error("no pulumi")), out: (l: string) => out.push(l), err: (l: string) => out.push(l) };
            const code = await preflightCommand(["--url", fake.httpUrl, "--only", "compute", "--json"], io, { env: { COMPUTE_TOKEN: "next-key-3c9e" } });
            expect(code).toBe(1);
            const report = (JSON.parse(out.join("\n")) as PreflightReport).compute!;
            expect(report.source).toMatch(/^GET .*\/openrpc\.json$/);
            expect(report.problems[0]).toBe(
                'auth: the service refused the token on rpc.discover (Hero Compute rpc.discover failed (HTTP 401): missing or invalid token: this service wants X-Api-Key); the binding\'s auth is none, so Authorization: Bearer: set "auth": { "header": …, "scheme": … } to what the service wants (its document does not say), and check computeToken',
            );
            expect(out.join("\n")).not.toContain("no message");
            expect(out.join("\n")).not.toContain("next-key-3c9e");
            const withAuth = await preflightCommand(["--url", fake.httpUrl, "--binding", NEXT_BINDING_PATH, "--only", "compute", "--json"], { ...io, out: () => undefined }, { env: { COMPUTE_TOKEN: "next-key-3c9e" } });
            expect(withAuth).toBe(0);
            // The refused request is answered before it is read (the fake logs none); the bound one carries the key in X-Api-Key.
            expect(fake.requests.filter((r) => r.method === "rpc.discover").map((r) => r.authorization)).toEqual(["next-key-3c9e"]);
        } finally {
            await fake.stop();
        }
    });
});
