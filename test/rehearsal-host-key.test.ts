/**
 * The pinned SSH host key, under the real `pulumi` CLI (test/engine/) with real sshd on
 * loopback: the first deploy pins the key the VM reports and every bootstrap step
 * connects with it; a later update after the VM's key changed fails before any
 * step sends anything, with the message that names the VM; a different key on the
 * wire while the VM's own file still holds the pinned one is refused by the pinned
 * connection itself. The runs build on each other, in order, on one world.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostKeyFingerprint } from "../components/host-key";
import { STEPS } from "../components/render";
import { exportState, loadState } from "./engine/state";
import { changes, type RunResult } from "./rehearsal/runner";
import { World } from "./rehearsal/world";

let world: World;
let pinned = "";
const changed = (r: RunResult) => changes(r).map((o) => `${o.op} ${o.name}`);
const ran = (r: RunResult) => [...new Set(r.commands.map((c) => c.urn.split("::").pop()!))];
const commandsOf = () => Object.values(loadState(world.stateFile()).resources).filter((x) => x.type === "command:remote:Command");

beforeAll(async () => {
    world = await World.start(["alice"]);
});

afterAll(async () => {
    await world?.stop();
});

describe.sequential("rehearsal: the pinned SSH host key", { timeout: 240_000 }, () => {
    it("a first deploy pins the key the VM reports, records it in the outputs, and every bootstrap step connects with it", async () => {
        world.writeUsers([{ username: "alice" }]);
        const r = await world.run("up");
        expect(r.errors).toEqual([]);
        pinned = world.hostKeyOf("alice");
        expect(pinned).toMatch(/^ssh-ed25519 AAAA/);
        expect(r.outputs.environments.alice.sshHostKey).toBe(pinned);
        expect(ran(r)).toEqual(["alice-host-key", "alice-host-key-check", "alice-scripts", ...STEPS.map((s) => `alice-${s}`)]);
        // The connection is a secret input (the command provider's schema says so): read with secrets shown.
        const state = Object.values((await exportState(world.workspace, "rehearsal")).resources);
        const cmds = state.filter((x) => x.type === "command:remote:Command");
        const copy = state.find((x) => x.type === "command:remote:CopyToRemote")!;
        expect(copy.inputs.connection.hostKey, "alice-scripts").toBe(pinned);
        for (const s of STEPS) expect(cmds.find((c) => c.name === `alice-${s}`)!.inputs.connection.hostKey, s).toBe(pinned);
        for (const s of ["alice-host-key", "alice-host-key-check"]) expect(cmds.find((c) => c.name === s)!.inputs.connection.hostKey, s).toBeUndefined();
    });

    it("a second run connects to nothing: the pin is held in state, not learned again", async () => {
        const r = await world.run("up");
        expect(r.errors).toEqual([]);
        expect(changed(r)).toEqual([]);
        expect(r.commands).toEqual([]);
        expect(r.outputs.environments.alice.sshHostKey).toBe(pinned);
    });

    it("a VM whose host key changed between two updates: the next update fails at the check, naming the VM and what to check", async () => {
        await world.changeHostKey("alice", "new");
        const vmChanges = world.machines.get("alice")!.vm.changes().length;
        const vmId = world.compute.vm("rhalice")!.id;
        world.writeUsers([{ username: "alice", services: ["slides"] }]);
        const r = await world.run("up");
        expect(r.ok).toBe(false);
        const msg = r.errors.join("\n");
        expect(msg).toContain("alice-host-key-check: Process exited with status 1");
        expect(msg).toContain(`host-key: FAILED: the SSH host key of alice's VM rhalice (vm ${vmId} at ${world.machines.get("alice")!.host}) has changed:`);
        expect(msg).toContain(`pinned at this tool's first connection ${hostKeyFingerprint(pinned)}, the VM now has ${hostKeyFingerprint(world.hostKeyOf("alice"))}.`);
        expect(msg).toMatch(/pulumi up --replace 'urn:pulumi:rehearsal::hero-os-grid-deployer::hero:demo:Environment\$command:remote:Command::alice-host-key'/);
        expect(ran(r)).toEqual(["alice-host-key-check"]);
        expect(world.machines.get("alice")!.vm.changes()).toHaveLength(vmChanges);
        // The pin did not move: the next run fails the same way until someone decides.
        const again = await world.run("up");
        expect(again.errors.join("\n")).toContain("has changed:");
        expect(commandsOf().find((c) => c.name === "alice-host-key")!.outputs.stdout).toBe(pinned);
    });

    it("another key on the wire while the VM's file still holds the pinned one: the pinned connection refuses it and nothing is sent", async () => {
        await world.changeHostKey("alice", pinned);
        const vmChanges = world.machines.get("alice")!.vm.changes().length;
        const r = await world.run("up");
        expect(r.ok).toBe(false);
        // The check asks the VM (unpinned, nothing secret) and hears the pinned key; the first pinned resource,
        // the scripts copy (the bundle changed with the services), then refuses the handshake.
        expect(r.errors.join("\n")).toMatch(/alice-scripts: ssh: handshake failed: ssh: host key mismatch/);
        expect(ran(r)).toEqual(["alice-host-key-check", "alice-scripts"]);
        expect(world.machines.get("alice")!.vm.changes()).toHaveLength(vmChanges);
        expect(commandsOf().find((c) => c.name === "alice-host-key")!.outputs.stdout).toBe(pinned);
    });
});
