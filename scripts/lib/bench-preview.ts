/**
 * The bench's `preview` part: `pulumi preview` of N users under the real CLI
 * (test/engine/), for the real program and for a bare program registering the
 * same resource shapes (types, names, parents, declared properties; trivial
 * values, a do-nothing dynamic provider) in the same runtime (ts-node) and
 * engine. Wall time, and the CPU of each CLI's whole process tree.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { Shape } from "./bench-eval";
import { cpuWrap, readTimes } from "./bench-engine";

const BARE_PROJECT = "hero-bench-bare";

/** The bare program: the shape from $HERO_BENCH_SHAPE, $HERO_BENCH_USERS users, one at a time. */
export const BARE_PROGRAM = `import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
const shape: { type: string; role: string; custom: boolean; keys: string[] }[] = JSON.parse(fs.readFileSync(process.env.HERO_BENCH_SHAPE!, "utf8"));
const users = Number(process.env.HERO_BENCH_USERS);
const provider = "exports.handler = () => ({ check: async (olds, news) => ({ inputs: news }), diff: async () => ({}) });";
class Bare extends pulumi.CustomResource {
    constructor(type: string, name: string, props: pulumi.Inputs, opts: pulumi.CustomResourceOptions) {
        super(type, name, props, opts);
    }
}
class BareComponent extends pulumi.ComponentResource {
    done(): void {
        this.registerOutputs({});
    }
}
for (let i = 0; i < users; i++) {
    const u = \`u\${String(i).padStart(4, "0")}\`;
    const comp = shape.find((s) => !s.custom);
    const parent = comp ? new BareComponent(comp.type, u + comp.role, {}) : undefined;
    for (const s of shape.filter((x) => x.custom)) {
        const props: pulumi.Inputs = Object.fromEntries(s.keys.map((k) => [k, 1]));
        if (s.type.startsWith("pulumi-nodejs:dynamic/")) props.__provider = provider;
        new Bare(s.type, u + s.role, props, { parent });
    }
    parent?.done();
}
`;

export interface PreviewFigure {
    ok: boolean;
    ms: number;
    cpuMs?: number;
    steps: number;
    errors: string[];
}

/** Both previews of `users` users; `usernames`: the program's users (a world's). */
export async function previewBoth(users: number, shape: Shape, services: string[]): Promise<{ program: PreviewFigure; bare: PreviewFigure }> {
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { World } = require("../../test/rehearsal/world");
    const { Workspace } = require("../../test/engine/workspace");
    const { previewEvents } = require("../../test/rehearsal/runner");
    /* eslint-enable @typescript-eslint/no-require-imports */
    const world = await World.start(["u0000"]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-preview-"));
    try {
        const names = Array.from({ length: users }, (_, i) => `u${String(i).padStart(4, "0")}`);
        world.writeUsers(names.map((username: string) => ({ username, services })));
        const times = path.join(dir, "program.times");
        const r = await world.run("preview", {}, [], { wrap: cpuWrap(times) });
        const program = { ok: r.ok, ms: r.ms, cpuMs: readTimes(times), steps: r.ops.length, errors: r.errors.slice(0, 3) };

        const shapeFile = path.join(dir, "shape.json");
        fs.writeFileSync(shapeFile, JSON.stringify(shape));
        const ws = new Workspace(
            path.join(dir, "bare"),
            {
                "Pulumi.yaml": `name: ${BARE_PROJECT}\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n`,
                "package.json": JSON.stringify({ name: BARE_PROJECT, main: "index.ts" }),
                "index.ts": BARE_PROGRAM,
            },
            BARE_PROJECT,
        );
        await ws.ensureStack("bench");
        const bareTimes = path.join(dir, "bare.times");
        const started = Date.now();
        const b = await ws.pulumi(["preview", "--json", "--non-interactive", "--stack", "bench"], {
            env: { HERO_BENCH_SHAPE: shapeFile, HERO_BENCH_USERS: String(users) },
            wrap: cpuWrap(bareTimes),
            timeoutMs: 1_800_000,
        });
        const ms = Date.now() - started;
        const parsed = previewEvents(b.stdout);
        const bare = { ok: b.code === 0, ms, cpuMs: readTimes(bareTimes), steps: parsed.ops.length, errors: [...parsed.errors, ...(b.code === 0 ? [] : [b.stderr.slice(-500)])].slice(0, 3) };
        return { program, bare };
    } finally {
        await world.stop();
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
