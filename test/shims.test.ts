/**
 * The serialized providers are frozen in state: every shim text ever shipped
 * (test/fixtures/shims/<version>/<kind>.js) must still resolve in Pulumi's own
 * dynamic-provider host and run read and delete against the fakes, because that
 * is what a refresh or a teardown of an old resource runs. v0 is the
 * self-contained provider code of the first release (stop 8); v1 is the first
 * thin shim. The current serialization must equal the newest fixture, so a
 * change to a shim cannot ship without a new version.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynamicHost, REPO_ROOT, serializeProvider } from "./support/dynamic-host";
import { FakeCompute, TODAY_BINDING_PATH } from "./fakes/compute";
import { FakeForgejo } from "./fakes/forgejo";
import { ed25519Key } from "./engine/builtins";
import { accountInputs, TEST_IDENTITY } from "./support/fixtures";

const FIXTURES = path.join(__dirname, "fixtures", "shims");
const VERSIONS = fs.readdirSync(FIXTURES).sort();
const KINDS = ["forgeAccount", "feedbackHub", "vm", "gateway"] as const;
const fixture = (version: string, kind: string) => fs.readFileSync(path.join(FIXTURES, version, `${kind}.js`), "utf8");
const KEY = String(ed25519Key().publicKeyOpenssh).trim();
const FEEDBACK = "lhumina_public/feedback";

let forge: FakeForgejo;
let compute: FakeCompute;
let host: DynamicHost;

beforeAll(async () => {
    [forge, compute] = await Promise.all([FakeForgejo.start(), FakeCompute.start({ dialect: "today", provisionMs: 20, gatewayDeployMs: 5 })]);
    forge.addRepo(FEEDBACK);
    host = await DynamicHost.start(fixture(VERSIONS[0], "vm"), {
        forgeUrl: forge.url,
        forgeToken: forge.adminToken,
        forgeRetryBaseMs: "1",
        purgeAccountsOnTeardown: "true",
        purgeFeedbackHubOnTeardown: "true",
        computeUrl: compute.httpUrl,
        // v0 stored code speaks today's dialect, the first guess it was written against; v1 is bound to it.
        computeBinding: TODAY_BINDING_PATH,
        computePollSeconds: "0.01",
        computeBackoffSeconds: "0.01",
    });
});
afterAll(async () => {
    await host?.stop();
    await Promise.all([forge?.stop(), compute?.stop()]);
});

/** What each shipped shim file does is frozen with it: state written with v1 runs this code for as long as it lives. */
const FROZEN: Record<string, string> = {
    "v1/make.js": "85237af03c36f948a33717e48da392e82a96c4cfe84150110d55e3aefe3d2712",
    "v1/vm.js": "517ff9ad8267413984a70963a1aa89aa62a12076eb65565a9a99cd5564bfd9a4",
    "v1/gateway.js": "d971240373a48d56366999221d245ed0df2781cc6c89bac968844c9a2879f2df",
    "v1/forge-account.js": "29a7e9dc10d65d60293fbee1573dfaa5c53d8de268659651e271fe209e49c1ac",
    "v1/feedback-hub.js": "5a80af1a067a52641f2fd8fcd99b12f2e79134d1a2e8253453b46f8df3d3e334",
};

describe("the shims Pulumi stores", () => {
    it("are unchanged since they shipped (a new behaviour is a new version directory)", () => {
        for (const [file, sha] of Object.entries(FROZEN)) {
            const text = fs.readFileSync(path.join(REPO_ROOT, "providers", "shims", file));
            expect(crypto.createHash("sha256").update(text).digest("hex"), `providers/shims/${file} is frozen`).toBe(sha);
        }
        expect(fs.readdirSync(path.join(REPO_ROOT, "providers", "shims")).filter((d) => /^v\d+$/.test(d)).sort()).toEqual(VERSIONS.filter((v) => v !== "v0"));
    });

    it("are today's newest fixture, a reference to a versioned entry, under 2 KB", async () => {
        const newest = VERSIONS[VERSIONS.length - 1];
        for (const kind of KINDS) {
            const text = await serializeProvider("providers/shims.ts", `SHIMS.${kind}`);
            expect(text, `SHIMS.${kind} changed: add a new shim version and its fixture, keep the old ones`).toBe(fixture(newest, kind));
            expect(Buffer.byteLength(text)).toBeLessThan(2048);
            expect(text.match(/require\("[^"]+"\)/g)).toEqual([expect.stringMatching(new RegExp(`^require\\("hero-os-grid-deployer-shims/${newest}/[a-z-]+\\.js"\\)$`))]);
        }
    });

    it("are installed as a copy that matches providers/shims (run npm ci when this fails)", () => {
        const installed = path.join(REPO_ROOT, "node_modules", "hero-os-grid-deployer-shims");
        expect(fs.lstatSync(installed).isSymbolicLink()).toBe(false);
        const files = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)).map((f) => `${e.name}/${f}`) : [e.name]));
        const source = path.join(REPO_ROOT, "providers", "shims");
        for (const f of files(source)) {
            expect(fs.readFileSync(path.join(installed, f), "utf8"), f).toBe(fs.readFileSync(path.join(source, f), "utf8"));
        }
    });
});

describe.each(VERSIONS)("shim %s in Pulumi's dynamic-provider host", (version) => {
    const as = (kind: string) => host.forProvider(fixture(version, kind));
    const strip = ({ __provider: _p, ...rest }: Record<string, unknown>) => rest;

    it("a Forge account it created is read, then deleted", async () => {
        const h = as("forgeAccount");
        const login = `${version}shim`;
        const { inputs } = await h.check({}, accountInputs(login, FEEDBACK));
        const created = await h.create(strip(inputs));
        expect(created.outs).toMatchObject({ login, createdByTool: true });
        expect((await h.read(created.id, created.outs)).id).toBe(login);
        await h.delete(created.id, created.outs);
        expect(forge.user(login)).toBeUndefined();
        expect((await h.read(created.id, created.outs)).id).toBe(""); // gone: a refresh says so
        await h.delete(created.id, created.outs); // deleting again is done
    });

    it("a feedback hub it created is read, then deleted", async () => {
        const h = as("feedbackHub");
        const repo = `${version}org/feedback`;
        const { inputs } = await h.check({}, { repo, stack: TEST_IDENTITY.stack, stackId: TEST_IDENTITY.id });
        const created = await h.create(strip(inputs));
        expect((await h.read(created.id, created.outs)).id).toBe(repo);
        await h.delete(created.id, created.outs);
        expect(forge.repo(repo)).toBeUndefined();
    });

    it("a VM and a gateway it created are read, then deleted", async () => {
        const vmName = `${version}shimvm`;
        const vmHost = as("vm");
        const vmIn = await vmHost.check({}, { name: vmName, username: "shim", memoryMb: 2048, cpu: 1, diskGb: 15, sshKeys: [KEY] });
        expect(vmIn.failures).toEqual([]);
        const vm = await vmHost.create(strip(vmIn.inputs));
        const gwHost = as("gateway");
        const gwIn = await gwHost.check({}, { name: `${version}shimgw`, username: "shim", backend: `http://[${vm.outs.myceliumIp}]:9997`, vmId: vm.outs.vmId });
        expect(gwIn.failures).toEqual([]);
        const gw = await gwHost.create(strip(gwIn.inputs));
        expect((await vmHost.read(vm.id, vm.outs)).id).toBe(vm.id);
        expect((await gwHost.read(gw.id, gw.outs)).id).toBe(gw.id);
        await gwHost.delete(gw.id, gw.outs);
        await vmHost.delete(vm.id, vm.outs);
        expect(compute.vm(vmName)).toBeUndefined();
        expect([...compute.gateways.keys()]).not.toContain(`${version}shimgw`);
        await vmHost.delete(vm.id, vm.outs); // already gone: done
    });
});

describe("outside the project directory", () => {
    it("a shim fails naming the package it cannot find", async () => {
        const newest = VERSIONS[VERSIONS.length - 1];
        const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), "shim-cwd-"));
        const stray = await DynamicHost.start(fixture(newest, "vm"), { computeUrl: compute.httpUrl }, {}, elsewhere);
        try {
            const err = await stray.check({}, { name: "x" }).then(() => undefined, (e: Error) => e);
            // Node's own words, from the stored text's require(): the README says what to do about it.
            expect(String(err?.message)).toContain("Cannot find module 'hero-os-grid-deployer-shims/v1/vm.js'");
        } finally {
            await stray.stop();
        }
    });
});
