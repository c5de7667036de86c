/**
 * The bench's measurements that run in a child process (see scripts/bench.ts): a
 * summary of one evaluation under mocks, an `up` evaluation under mocks, and whole
 * `pulumi up` runs under the real CLI against the rehearsal's fakes.
 */
import * as fs from "fs";
import * as path from "path";
import { backendWrites, cpuWrap, readTimes, straceWrap } from "./bench-engine";
import { BENCH_SERVICES, checkpointBytes, evaluateProgram, shapeOf, type Evaluation, type Shape } from "./bench-eval";

export interface Summary {
    users: number;
    ms: number;
    cpuMs: number;
    maxRssMb: number;
    resources: number;
    shape: Shape;
    inputBytes: number;
    /** Inputs registered for the first user's resources (u0000 and its children), by role. */
    firstUser: Record<string, number>;
    providerBytesPerResource: Record<string, number>;
    checkpoint: ReturnType<typeof checkpointBytes>;
}

export function summarize(e: Evaluation): Summary {
    const providerBytesPerResource: Record<string, number> = {};
    for (const r of e.regs) if (r.providerBytes > 0) providerBytesPerResource[r.type.replace("pulumi-nodejs:dynamic/hero:", "")] ??= r.providerBytes;
    return {
        users: e.users, ms: e.ms, cpuMs: e.cpuMs, maxRssMb: e.maxRssMb, resources: e.regs.length, shape: shapeOf(e.regs),
        inputBytes: e.regs.reduce((s, r) => s + r.inputBytes, 0), providerBytesPerResource, checkpoint: checkpointBytes(e.regs),
        firstUser: Object.fromEntries(e.regs.filter((r) => r.name === "u0000" || r.name.startsWith("u0000-")).map((r) => [r.name.slice(5) || "(component)", r.inputBytes])),
    };
}

/** `up` under mocks: the program's preflight needs rpc.discover, so a compute fake answers it. */
export async function partUp(n: number): Promise<Summary> {
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { FakeCompute } = require("../../test/fakes/compute");
    const compute = await FakeCompute.start();
    try {
        const one = summarize(await evaluateProgram(n, false, compute.httpUrl));
        return one;
    } finally {
        await compute.stop();
    }
}

/**
 * `pulumi up` of `counts` users under the real CLI against the fakes, provisioning delay
 * `provisionMs`; `thinVms`: see World.start. `measure`: "cpu" (the CLI's process tree
 * through bash's `times`) or "writes" (strace: the bytes the file backend writes).
 */
export async function partRehearsal(counts: number[], provisionMs: number, thinVms = false, measure: "cpu" | "writes" = "cpu"): Promise<unknown> {
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { World } = require("../../test/rehearsal/world");
    const { loadState } = require("../../test/engine/state");
    /* eslint-enable @typescript-eslint/no-require-imports */
    const max = Math.max(...counts);
    const names = Array.from({ length: max }, (_, i) => `u${String(i).padStart(4, "0")}`);
    const world = await World.start(names, { provisionMs, thinVms });
    const out: Record<string, unknown>[] = [];
    try {
        for (const n of counts) {
            world.writeUsers(names.slice(0, n).map((username: string) => ({ username, services: BENCH_SERVICES })));
            world.compute.maxDeploysInFlight = 0;
            world.compute.maxChangingCallsInFlight = 0;
            const vmCpuBefore = world.vmCpuMs();
            const probe = path.join(world.dir, `bench-${n}.${measure === "cpu" ? "times" : "strace"}`);
            const r = await world.run("up", { computeConcurrency: "3" }, [], { wrap: measure === "cpu" ? cpuWrap(probe) : straceWrap(probe) });
            const vmCpuMs = vmCpuBefore === undefined ? undefined : world.vmCpuMs()! - vmCpuBefore;
            const stateFile = world.stateFile();
            const all = Object.values<any>(loadState(stateFile).resources);
            // Per user: the first user's resources (the stack and the feedback hub are once per stack).
            const res = n === 1 ? all.filter((x) => x.name.startsWith(names[0])) : all;
            const stateBytes = res.reduce((s, x) => s + JSON.stringify(x.inputs).length + JSON.stringify(x.outputs).length, 0);
            const providerBytes = res.reduce((s, x) => s + (x.inputs.__provider?.length ?? 0) + (x.outputs.__provider?.length ?? 0), 0);
            // The steps' stdout and stderr as state holds them (a secret step's as its ciphertext).
            const stdoutBytes = res.filter((x) => x.type === "command:remote:Command").reduce((s, x) => s + JSON.stringify(x.outputs.stdout ?? "").length + JSON.stringify(x.outputs.stderr ?? "").length, 0);
            out.push({
                users: n, ok: r.ok, errors: r.errors.slice(0, 3), ms: r.ms, creates: r.ops.filter((o: any) => o.op === "create").length,
                deployerCpuMs: measure === "cpu" ? readTimes(probe) : undefined, vmCpuMs,
                writes: measure === "writes" ? backendWrites(probe, world.workspace.backendDir) : undefined,
                maxInFlight: world.compute.maxDeploysInFlight, maxChangingCalls: world.compute.maxChangingCallsInFlight,
                stateBytes, providerBytes, stdoutBytes, stateFileBytes: fs.statSync(stateFile).size,
            });
            fs.rmSync(probe, { force: true });
            const d = await world.run("destroy");
            if (!d.ok) throw new Error(`destroy after ${n} users failed: ${d.errors.join("; ")}`);
        }
    } finally {
        await world.stop();
    }
    return out;
}
