/** The CI workflow twins as data, for test/workflows.test.ts and test/workflow-jobs.test.ts. */
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";

export const REPO = path.resolve(__dirname, "..", "..");
export const GITHUB = ".github/workflows/pulumi.yml";
export const FORGEJO = ".forgejo/workflows/pulumi.yml";

export type Step = { name?: string; id?: string; uses?: string; run?: string; if?: string; "continue-on-error"?: boolean; with?: Record<string, unknown>; env?: Record<string, string> };
export interface Job {
    if?: string;
    needs?: string | string[];
    "runs-on": string;
    container?: unknown;
    permissions?: Record<string, string>;
    env?: Record<string, string>;
    steps: Step[];
}
type Trigger = { branches: string[]; paths: string[] };
export interface Workflow {
    on: { pull_request: Trigger; push: Trigger; schedule?: Array<{ cron: string }>; workflow_dispatch?: unknown };
    env: Record<string, string>;
    jobs: Record<string, Job>;
    permissions?: unknown;
    concurrency?: { group: string; "cancel-in-progress": unknown };
}

export function read(file: string): string {
    return fs.readFileSync(path.join(REPO, file), "utf8");
}

export function workflow(file: string): Workflow {
    return parse(read(file)) as Workflow;
}

export function job(wf: Workflow, id: string): Job {
    const j = wf.jobs[id];
    if (!j) throw new Error(`no job ${id} (jobs: ${Object.keys(wf.jobs).join(", ")})`);
    return j;
}

export function isPulumiAction(s: Step): boolean {
    return /(^|\/)pulumi\/actions@/.test(s.uses ?? "");
}

/** Every `pulumi/actions` step of every job running `command`. */
export function pulumiSteps(wf: Workflow, command: string): Array<{ job: string; step: Step }> {
    return Object.entries(wf.jobs).flatMap(([id, j]) => j.steps.filter((s) => isPulumiAction(s) && s.with?.command === command).map((step) => ({ job: id, step })));
}

/** `**`, `*` and literal characters, as the workflow `paths` filters use them. */
export function globToRegExp(glob: string): RegExp {
    let re = "";
    for (let i = 0; i < glob.length; i++) {
        if (glob.startsWith("**", i)) {
            re += ".*";
            i++;
        } else if (glob[i] === "*") {
            re += "[^/]*";
        } else {
            re += glob[i].replace(/[.+?^${}()|[\]\\]/g, "\\$&");
        }
    }
    return new RegExp(`^${re}$`);
}
