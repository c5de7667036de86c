/**
 * The serialized providers are frozen in state: every shim text ever shipped
 * (test/fixtures/shims/<version>/<kind>.js) must still resolve in Pulumi's own
 * dynamic-provider host and run read and delete against the fakes, because that
 * is what a refresh or a teardown of an old resource runs. v0 is the
 * self-contained provider code of the first release (stop 8); v1 is the first
 * thin shim. The current serialization must equal the newest fixture, so a
 * change to a shim cannot ship without a new version. The shipped versions are
 * listed here, and each fixture is pinned by its hash.
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
/**
 * Every version ever shipped, named here rather than read from the folder: a fixture
 * deleted by mistake is a failure, not one version fewer to test. A new version is
 * added to this list, to SHIPPED below, and as a folder of fixtures.
 */
const VERSIONS = ["v0", "v1"];
const KINDS = ["forgeAccount", "feedbackHub", "vm", "gateway", "forgeLogin"] as const;
/** The kinds each version has: forgeLogin joined v1 later (issue 22), beside the others' unchanged text. */
const KINDS_OF: Record<string, readonly string[]> = { v0: KINDS.filter((k) => k !== "forgeLogin"), v1: KINDS };
/** The serialized text of every shipped version, as it sits in state, pinned by SHA-256: overwriting one is a failure too. */
const SHIPPED: Record<string, string> = {
    "v0/feedbackHub.js": "2d89a310784c920cdf1707e80069a717713e42c58bed2dd481b1d4cadc50e125",
    "v0/forgeAccount.js": "763932c9011d31bd2059fec88233af62b1ecb89b43fd3aa2ec20b7f648a8babe",
    "v0/gateway.js": "8294604a01466e7bf68d187c53e0465745bbb908999fc5e94901c8cf04889f3b",
    "v0/vm.js": "4c92c6863cf081fbad6f64fb6b4e99a5e0fb634bdb85c6db9a9fc11ce257abb0",
    "v1/feedbackHub.js": "d61110140dce3d41cb87682f72b78818358c448f48b2a7b714c94a492c218ecc",
    "v1/forgeAccount.js": "25da3ada7de06083b6a47b8f7efa84acf38d78374a4c3eac10c0dd1e6e8d222f",
    "v1/forgeLogin.js": "1f2dd416fc6fd58f6b2b9a7d9b62425e57ccd688037a7459fe0a6238bbedff5a",
    "v1/gateway.js": "a050b6647a87a7efdad89aaf292729355a93d0345b008ac684e82f68cd497caa",
    "v1/vm.js": "0a439eb20e158106e827bd5a42415304147647170ea396cf1155cff804e01934",
};
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
    "v1/forge-login.js": "61b9b8bcb109654bcb4939ba568ba7a27d42ed5c6b535858e4cde8a4a8e23091",
};

describe("the shims Pulumi stores", () => {
    it("regression: every shipped version's fixtures are present, for every kind, and exactly as shipped (a deleted or overwritten v0 passed)", () => {
        expect(fs.readdirSync(FIXTURES).sort(), "test/fixtures/shims holds exactly the shipped versions").toEqual(VERSIONS);
        expect(Object.keys(SHIPPED).sort()).toEqual(VERSIONS.flatMap((v) => KINDS_OF[v].map((k) => `${v}/${k}.js`)).sort());
        for (const [file, sha] of Object.entries(SHIPPED)) {
            const where = path.join(FIXTURES, file);
            expect(fs.existsSync(where), `test/fixtures/shims/${file} is missing`).toBe(true);
            expect(crypto.createHash("sha256").update(fs.readFileSync(where)).digest("hex"), `test/fixtures/shims/${file} is the text state holds`).toBe(sha);
        }
    });

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

describe.each(VERSIONS.filter((v) => KINDS_OF[v].includes("forgeLogin")))("shim %s's Forge login in Pulumi's dynamic-provider host", (version) => {
    const stripProvider = ({ __provider: _p, ...rest }: Record<string, unknown>) => rest;

    it("a Forge login it created is read, then deleted", async () => {
        const h = host.forProvider(fixture(version, "forgeLogin"));
        const username = `${version}login`;
        const { inputs, failures } = await h.check({}, { username, gatewayUrl: "https://devshim.gw.test", stack: TEST_IDENTITY.stack, stackId: TEST_IDENTITY.id });
        expect(failures).toEqual([]);
        const created = await h.create(stripProvider(inputs));
        expect(created.outs).toMatchObject({ username, clientId: expect.stringMatching(/^[0-9a-f-]{36}$/), claimed: false });
        expect((await h.read(created.id, created.outs)).id).toBe(created.id);
        await h.delete(created.id, created.outs);
        expect(forge.oauthApps.filter((a) => a.name.includes(` ${username} `))).toEqual([]);
        expect((await h.read(created.id, created.outs)).id).toBe(""); // gone: a refresh says so
        await h.delete(created.id, created.outs); // deleting again is done
    });
});

describe("outside the project directory", () => {
    it("a shim fails naming the package it cannot find", async () => {
        const newest = VERSIONS[VERSIONS.length - 1];
        const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), "shim-cwd-"));
        const stray = await DynamicHost.start(fixture(newest, "vm"), { computeUrl: compute.httpUrl }, {}, elsewhere);
        try {
            const err = await stray.check({}, { name: "x" }).then(() => undefined, (e: Error) => e);
            // Node's own words, from the stored text's require(): docs/program.md says what to do about it.
            expect(String(err?.message)).toContain("Cannot find module 'hero-os-grid-deployer-shims/v1/vm.js'");
        } finally {
            await stray.stop();
        }
    });
});
