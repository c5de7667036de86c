/**
 * What the bootstrap downloads and runs as root on the VM: `lab` comes from one
 * release and runs only when its SHA-256 is the one in stack config; every curl
 * is limited to HTTPS, TLS 1.2 and a time; each long step (`lab build`, the Books
 * import) has an overall time limit and says what it waited for. Over a real
 * OpenSSH server on loopback, with the stub tools of test/ssh/harness.ts.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultEnv, stepParams } from "../components/render";
import { labDownloadUrl } from "../components/hero-cli";
import { resolveServices } from "../users/catalog";
import { stepValues } from "./support/fixtures";
import { createFakeVm, generateClientKey, runStep, sshdAvailable, startSshd, type ClientKey, type FakeVm, type Sshd } from "./ssh/harness";

const SCRIPTS = path.join(__dirname, "..", "components", "scripts");
const haveSshd = sshdAvailable();
if (!haveSshd && process.env.CI === "true") throw new Error("CI: /usr/sbin/sshd is missing; .ci/run must install openssh-server");

describe("rendered, no VM", () => {
    it("every curl in the scripts has a --max-time, and the one that downloads is https-only with TLS 1.2 or newer", () => {
        let seen = 0;
        for (const file of fs.readdirSync(SCRIPTS).filter((f) => f.endsWith(".sh"))) {
            const text = fs.readFileSync(path.join(SCRIPTS, file), "utf8").replace(/\\\n\s*/g, " ");
            for (const line of text.split("\n").filter((l) => /^\s*[^#]*\bcurl\s+-/.test(l))) {
                expect(line, `${file}: ${line}`).toMatch(/--max-time\s/);
                seen++;
            }
        }
        expect(seen).toBeGreaterThanOrEqual(3);
        const lib = fs.readFileSync(path.join(SCRIPTS, "lib.sh"), "utf8").replace(/\\\n\s*/g, " ");
        const download = /^hb_download\(\) \{[\s\S]*?^\}/m.exec(lib)![0];
        expect(download).toMatch(/curl -fsSL --proto "\$\{HB_CURL_PROTO:-=https\}" --tlsv1\.2 --max-time "\$\{HB_DOWNLOAD_TIMEOUT:-600\}"/);
    });

    it("a real VM gets lab from the pinned release, the configured SHA-256, https only and time limits", () => {
        const env = defaultEnv("400:1234::5", "latest", { release: "v0.9.2", sha256: "a".repeat(64) });
        const p = stepParams("install", stepValues(), env);
        expect(p).toMatchObject({ HB_LAB_URL: labDownloadUrl("v0.9.2"), HB_LAB_RELEASE: "v0.9.2", HB_LAB_SHA256: "a".repeat(64), HB_CURL_PROTO: "=https" });
        expect(Number(p.HB_DOWNLOAD_TIMEOUT)).toBeGreaterThan(0);
        expect(Number(p.HB_INSTALL_TIMEOUT)).toBeGreaterThan(0);
        expect(defaultEnv("400:1234::5", "latest-dev").labUrl).toBe(labDownloadUrl("latest-dev")); // today's channel is the default release
    });
});

describe.skipIf(!haveSshd)("lab and long steps over real SSH", () => {
    let key: ClientKey;
    let sshd: Sshd;
    let keyDir: string;
    let vm: FakeVm;
    const values = () => stepValues({ host: "127.0.0.1", gatewayUrl: vm.gatewayUrl }, resolveServices(["slides"]));

    beforeAll(async () => {
        keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "hb-dl-key-"));
        key = generateClientKey(keyDir);
        sshd = await startSshd(key.publicKey);
    });
    afterAll(async () => {
        await sshd?.stop();
        if (keyDir) fs.rmSync(keyDir, { recursive: true, force: true });
    });
    const fresh = async () => {
        await vm?.close();
        vm = await createFakeVm();
    };
    afterAll(async () => {
        await vm?.close();
    });
    const lab = () => path.join(vm.env().root, "usr/local/bin/lab");

    it("regression: a lab whose SHA-256 is not labSha256 stops the step, says so, and is neither kept nor run (was run unverified)", async () => {
        await fresh();
        const r = await runStep(sshd, key, "install", values(), vm.env({ labSha256: "0".repeat(64) }));
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(/install: FAILED: lab from http:\S+ has SHA-256 [0-9a-f]{64}, not 0{64} \(labSha256\): it was deleted, not run/);
        expect(fs.existsSync(lab())).toBe(false);
        expect(vm.calls().filter((c) => c.startsWith("lab "))).toEqual([]);
    });

    it("without labSha256 nothing is downloaded or run, and the step says what to set", async () => {
        await fresh();
        const r = await runStep(sshd, key, "install", values(), vm.env({ labSha256: "" }));
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(/install: FAILED: lab: no SHA-256 to check it against; set the stack config labSha256/);
        expect(vm.downloads.requests).toEqual([]);
    });

    it("regression: curl is held to https: a plain-http lab URL is refused before anything is fetched", async () => {
        await fresh();
        const r = await runStep(sshd, key, "install", values(), vm.env({ curlProto: "=https" }));
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(/install: FAILED: downloading lab/);
        expect(vm.downloads.requests).toEqual([]);
    });

    it("the matching lab is installed and verified; a lab build that outlives its time limit stops the step, naming what it waited for", async () => {
        await fresh();
        const ok = await runStep(sshd, key, "install", values(), vm.env());
        expect(ok.code, ok.stderr).toBe(0);
        expect(ok.stdout).toMatch(/lab latest downloaded and verified/);
        await fresh();
        const slow = await runStep(sshd, key, "install", values(), vm.env({ installTimeoutSec: 0.01 }));
        expect(slow.code).not.toBe(0);
        expect(slow.stderr).toMatch(/install: FAILED: \w+: installing hero_\w+ \(latest\) with lab build --download --install: not finished within 0\.01s; stopped waiting for it/);
    });
});
