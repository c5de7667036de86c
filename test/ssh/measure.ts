/**
 * Figures for the closing note: what a first and a second bootstrap run cost
 * over SSH, in seconds and bytes downloaded, against the fake VM of harness.ts
 * (real sshd on loopback, stub Hero tools, a local download server whose release
 * blobs are BLOB_BYTES each). Not a test: it prints figures.
 *
 *   npx ts-node test/ssh/measure.ts [optional services, comma-separated]
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { STEPS } from "../../components/render";
import { stepValues } from "../support/fixtures";
import { OPTIONAL_SERVICES, resolveServices, type OptionalService } from "../../users/catalog";
import { BLOB_BYTES, createFakeVm, generateClientKey, runStep, startSshd } from "./harness";

async function main(): Promise<void> {
    const chosen = (process.argv[2] ?? "slides,whiteboard").split(",").filter(Boolean) as OptionalService[];
    for (const c of chosen) if (!OPTIONAL_SERVICES.includes(c)) throw new Error(`not an optional service: ${c}`);
    const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "hb-measure-"));
    const key = generateClientKey(keyDir);
    const sshd = await startSshd(key.publicKey);
    const vm = await createFakeVm();
    try {
        const values = stepValues({ host: "127.0.0.1", gatewayUrl: vm.gatewayUrl }, resolveServices(chosen));
        console.log(`services: ${values.user.services.join(", ")}; release blob ${BLOB_BYTES} bytes each`);
        for (const run of ["first", "second"]) {
            const bytesBefore = vm.downloads.bytes;
            const requestsBefore = vm.downloads.requests.length;
            const changesBefore = vm.changes().length;
            let seconds = 0;
            let sent = 0;
            let received = 0;
            const perStep: string[] = [];
            for (const step of STEPS) {
                const r = await runStep(sshd, key, step, values, vm.env(), { forgeToken: "tok-measure" });
                if (r.code !== 0) throw new Error(`${run} run, ${step} failed:\n${r.stdout}${r.stderr}`);
                seconds += r.seconds;
                sent += r.stdinBytes;
                received += Buffer.byteLength(r.stdout) + Buffer.byteLength(r.stderr);
                perStep.push(`${step} ${r.seconds.toFixed(2)}s`);
            }
            console.log(
                `${run} run: ${seconds.toFixed(2)} s over SSH (${perStep.join(", ")}); ` +
                    `downloaded ${vm.downloads.bytes - bytesBefore} bytes in ${vm.downloads.requests.length - requestsBefore} requests; ` +
                    `${vm.changes().length - changesBefore} changing tool calls; stdin sent ${sent} bytes, output received ${received} bytes`,
            );
        }
    } finally {
        await sshd.stop();
        await vm.close();
        fs.rmSync(keyDir, { recursive: true, force: true });
    }
}

main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
});
