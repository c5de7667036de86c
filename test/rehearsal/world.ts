/**
 * The world a rehearsal deploys into, all on loopback: the fake Forgejo, the
 * fake Hero Compute, and per user a fake VM (the bootstrap harness's stub root
 * and local server) reached through its own sshd on its own 127.0.0.x. The
 * compute fake answers with that address as the VM's mycelium IP, and the
 * moment a VM comes up its `ssh_keys` become that sshd's authorized_keys.
 *
 * The fake grid gateway is one HTTPS server on 127.0.0.1 (a throwaway openssl certificate
 * for `*.gw.rehearsal.test`). As the grid's gateway does, it forwards each request for
 * `<name>.gw.rehearsal.test` to the backend the fake Hero Compute holds for gateway
 * `<name>`: the VM's front door, hero_proxy, on its mycelium address. There the fake
 * VM's stand-in proxy (test/ssh/stand-ins.ts) answers as the bootstrap configured it
 * (its routes, its Forge login with this environment's client id), and only once the
 * front-door step told it to listen there; else the gateway answers 502. Each fake VM's
 * mycelium address is its sshd's 127.0.x.y. The fake VMs' curl reaches the gateway
 * through a `.curlrc` (CURL_HOME, set by their sshd) that maps each gateway FQDN there and
 * trusts that certificate: the fake world's DNS, without touching the program.
 *
 * The program is pointed at the fake VMs through one test-only stack config key,
 * `bootstrapOverrides` (JSON): `{ port, users: { <username>: Partial<StepEnv> } }`.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as https from "https";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { gridName } from "../../components/naming";
import { type Dialect, FakeCompute } from "../fakes/compute";
import { FakeForgejo } from "../fakes/forgejo";
import { createFakeVm, type FakeVm } from "../ssh/harness";
import { forwardTo } from "../ssh/stand-ins";
import { killWorkingIn } from "../engine/cli";
import { Workspace } from "../engine/workspace";
import { Mode, rehearse, type RehearsalOptions, RunResult } from "./runner";
import { freePort, startSshd, Sshd } from "./sshd";

/** The world's default stack. */
export const STACK = "rehearsal";
export const PREFIX = "rh";
export const FEEDBACK_REPO = "lhumina_public/feedback";
export const GATEWAY_DOMAIN = "gw.rehearsal.test";

export interface UserSpec {
    username: string;
    services?: string[];
    gatewayName?: string;
    /** The person's own SSH public keys. */
    sshKeys?: string[];
}

/** Which stack a run is for: its name and the grid-name prefix its fake VMs answer to (all stacks share the world's backend). */
export interface StackSpec {
    stack: string;
    prefix: string;
    /** Leave `namePrefix` out of the config, so the program's default must come out as `prefix`. */
    defaultPrefix?: boolean;
}

export interface Machine {
    host: string;
    sshd: Sshd;
    vm: FakeVm;
    keysFile: string;
}

/** A thin VM's sshd ForceCommand: the host-key steps and sftp run, any other step is read and answered, not run. */
export const THIN_VM_COMMAND = `#!/bin/bash
case "$SSH_ORIGINAL_COMMAND" in
  "bash -s -- host-key" | "bash -s -- host-key-check") exec bash -c "$SSH_ORIGINAL_COMMAND" ;;
  sftp | internal-sftp) exec /usr/lib/openssh/sftp-server ;;
  *) cat >/dev/null; echo "\${SSH_ORIGINAL_COMMAND##* }: ok (thin VM, not run)" ;;
esac
`;

export class World {
    readonly machines = new Map<string, Machine>();
    /** Host headers the fake gateway was asked for, in order. */
    readonly gatewayHits: string[] = [];
    /** Status codes the fake gateway answers for `<host><path>` itself; anything else is forwarded to the VM's front door. */
    readonly gatewayAnswers = new Map<string, number>();
    private gateway!: https.Server;
    /** The real CLI's backend, home and project directory, shared by the world's stacks. */
    readonly workspace: Workspace;
    private constructor(
        readonly dir: string,
        readonly forge: FakeForgejo,
        readonly compute: FakeCompute,
        readonly sshPort: number,
    ) {
        this.workspace = new Workspace(path.join(dir, "engine"));
    }

    /**
     * Starts the fakes and one fake VM + sshd per username that may be deployed, for the
     * prefix PREFIX (keyed by username) and for each of `otherPrefixes` (keyed `<prefix>/<username>`):
     * a second stack's VMs are other VMs. `dialect`: the one the fake Hero Compute speaks.
     * `thinVms` (the bench's diagnostic, never a test's): the VMs run the host-key steps
     * and sftp, and answer every other step after reading its stdin, without running it
     * (THIN_VM_COMMAND): what the deployer costs when its VMs' work is elsewhere.
     */
    static async start(
        usernames: string[],
        opts: { provisionMs?: number; otherPrefixes?: string[]; dialect?: Dialect; thinVms?: boolean; computeToken?: string; realForge?: { url: string; adminToken: string } } = {},
    ): Promise<World> {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rehearsal-world-"));
        const forge = await FakeForgejo.start();
        forge.addRepo(FEEDBACK_REPO);
        let world: World | undefined;
        const compute = await FakeCompute.start({
            dialect: opts.dialect,
            provisionMs: opts.provisionMs ?? 0,
            allowLoopbackBackend: true,
            myceliumIpFor: (name, id) => world!.vmCameUp(name, id),
            gatewayDomain: GATEWAY_DOMAIN,
            token: opts.computeToken,
        });
        world = new World(dir, forge, compute, await freePort("127.0.0.1"));
        world.forgeTarget = opts.realForge ?? { url: forge.url, adminToken: forge.adminToken };
        if (opts.thinVms) {
            world.forceCommand = path.join(dir, "thin-vm.sh");
            fs.writeFileSync(world.forceCommand, THIN_VM_COMMAND, { mode: 0o755 });
        }
        const prefixes = [PREFIX, ...(opts.otherPrefixes ?? [])];
        for (const p of prefixes) for (const u of usernames) world.gatewayNames.add(gridName(p, u));
        await world.startGateway();
        await Promise.all(
            prefixes.flatMap((p, j) => usernames.map((u, i) => world!.addMachine(p === PREFIX ? u : `${p}/${u}`, gridName(p, u), `127.0.${j}.${10 + i}`))),
        );
        return world;
    }

    /** Gateway names the fake VMs' curl resolves to the fake gateway. */
    private readonly gatewayNames = new Set<string>();
    private gatewayPort = 0;

    private async startGateway(): Promise<void> {
        // A throwaway certificate for the fake gateway, made per world: no private key lives in the repo.
        const certFile = path.join(this.dir, "gateway-cert.pem");
        const keyFile = path.join(this.dir, "gateway-key.pem");
        execFileSync("openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", "/CN=fake grid gateway (rehearsal only)", "-addext", `subjectAltName=DNS:*.${GATEWAY_DOMAIN}`,
            "-keyout", keyFile, "-out", certFile,
        ], { stdio: "ignore" });
        const tls = { cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) };
        this.gateway = https.createServer(tls, (req, res) => {
            this.gatewayHits.push(String(req.headers.host));
            const host = String(req.headers.host).replace(/:\d+$/, "");
            const status = this.gatewayAnswers.get(`${host}${req.url}`);
            if (status !== undefined) return void res.writeHead(status).end(`fake gateway: ${status}\n`);
            forwardTo(() => this.frontDoorOf(host))(req, res);
        });
        await new Promise<void>((r) => this.gateway.listen(0, "127.0.0.1", r));
        const port = (this.gateway.address() as AddressInfo).port;
        fs.mkdirSync(path.join(this.dir, "curl"));
        this.gatewayCa = certFile;
        this.gatewayPort = port;
        this.writeCurlrc();
        this.gatewayAddress = `127.0.0.1:${port}`;
    }

    /** Where the gateway for `fqdn` forwards: the fake Hero Compute's backend for it, mapped to that fake VM's proxy on its mycelium address. */
    private frontDoorOf(fqdn: string): { host: string; port: number } | undefined {
        const gw = [...this.compute.gateways.values()].find((g) => g.fqdn === fqdn);
        if (!gw) return undefined;
        const backendHost = new URL(gw.backend).hostname.replace(/^\[|\]$/g, "");
        const m = [...this.machines.values()].find((x) => x.host === backendHost);
        if (!m) return undefined;
        // The fake VM cannot own port 9997 on every address: its proxy's port stands for it.
        return { host: m.vm.external, port: Number(new URL(m.vm.externalProxyUrl).port) };
    }

    /** The fake world's DNS for the VMs' curl: every known gateway name → the fake gateway. */
    private writeCurlrc(): void {
        const rc = [`cacert = "${this.gatewayCa}"`];
        for (const name of this.gatewayNames) rc.push(`connect-to = "${name}.${GATEWAY_DOMAIN}:443:127.0.0.1:${this.gatewayPort}"`);
        fs.writeFileSync(path.join(this.dir, "curl", ".curlrc"), rc.join("\n") + "\n");
    }

    /** The fake gateway's certificate (its own CA) and address, for clients outside the fake VMs. */
    gatewayCa = "";
    gatewayAddress = "";

    /** The machine key (username, or `<prefix>/<username>`) of each VM name. */
    private readonly machineOfName = new Map<string, string>();

    private async addMachine(username: string, vmName: string, host: string): Promise<void> {
        this.machineOfName.set(vmName, username);
        const keysFile = path.join(this.dir, `${username.replace("/", "-")}.authorized_keys`);
        fs.writeFileSync(keysFile, "", { mode: 0o600 });
        // The VM's mycelium address is its sshd's: hero_router and hero_proxy stand-ins listen there when they are exposed.
        const vm = await createFakeVm({ external: host });
        const sshd = await this.startVmSshd(keysFile, host, vm);
        this.machines.set(username, { host, sshd, vm, keysFile });
        this.reportHostKey(username);
    }

    /** The VM's sshd. Sessions get the fake VM's own root home as HOME, as a VM's root has /root (see startSshd). */
    private startVmSshd(keysFile: string, host: string, vm: FakeVm): Promise<Sshd> {
        return startSshd([keysFile], host, this.sshPort, { CURL_HOME: path.join(this.dir, "curl"), HOME: vm.home }, this.forceCommand);
    }

    /**
     * The Forge the stacks deploy to: the fake (`forge`), or a real Forgejo the test
     * started (`realForge`); the fake then stands idle.
     */
    private forgeTarget!: { url: string; adminToken: string };

    /** The thin VMs' ForceCommand (see `thinVms`). */
    private forceCommand?: string;

    /** Puts the VM's sshd host key where a VM has it, /etc/ssh/ssh_host_ed25519_key.pub, in its fake root. */
    private reportHostKey(username: string): void {
        const m = this.machines.get(username)!;
        fs.mkdirSync(path.join(m.vm.root, "etc", "ssh"), { recursive: true });
        fs.copyFileSync(path.join(m.sshd.dir, "host_key.pub"), path.join(m.vm.root, "etc", "ssh", "ssh_host_ed25519_key.pub"));
    }

    /** The host key the VM's sshd presents now, `ssh-ed25519 <base64>`. */
    hostKeyOf(username: string): string {
        return fs.readFileSync(path.join(this.machines.get(username)!.sshd.dir, "host_key.pub"), "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
    }

    /**
     * Gives the VM's sshd a new host key (a restart on the same address and port).
     * `vmReports`: "new" when the VM's own key file changes too (a rebuilt VM), or
     * the key line its file holds instead (someone else answering on its address
     * while the VM itself still has that key).
     */
    async changeHostKey(username: string, vmReports: "new" | string): Promise<void> {
        const m = this.machines.get(username)!;
        await m.sshd.stop();
        m.sshd = await this.startVmSshd(m.keysFile, m.host, m.vm);
        if (vmReports === "new") this.reportHostKey(username);
        else fs.writeFileSync(path.join(m.vm.root, "etc", "ssh", "ssh_host_ed25519_key.pub"), `${vmReports}\n`);
    }

    /** The compute fake's hook: the VM is up; its sshd now accepts the VM's keys. */
    private vmCameUp(name: string, id: string): string {
        const key = this.machineOfName.get(name);
        // A VM no test user deploys (a look-alike put there by a test): an address nobody answers on.
        if (key === undefined) return "127.0.0.254";
        const m = this.machines.get(key)!;
        fs.writeFileSync(m.keysFile, this.compute.vms.get(id)!.ssh_keys.join("\n") + "\n");
        return m.host;
    }

    get usersFile(): string {
        return path.join(this.dir, "users.yaml");
    }

    /** The checkpoint the real file backend keeps for the world's default stack (or `stack`). */
    stateFile(stack = STACK): string {
        return this.workspace.stateFile(stack);
    }

    writeUsers(users: UserSpec[]): void {
        const lines = ["users:"];
        for (const u of users) {
            lines.push(`  - username: ${u.username}`, `    email: ${u.username}@example.org`, `    fullName: ${u.username} Example`);
            if (u.services) lines.push(`    services: [${u.services.join(", ")}]`);
            if (u.sshKeys) lines.push(`    sshKeys: [${u.sshKeys.map((k) => JSON.stringify(k)).join(", ")}]`);
            if (u.gatewayName) {
                lines.push(`    gatewayName: ${u.gatewayName}`);
                this.gatewayNames.add(u.gatewayName);
            }
        }
        this.writeCurlrc();
        fs.writeFileSync(this.usersFile, lines.join("\n") + "\n");
    }

    config(extra: Record<string, string> = {}, prefix = PREFIX, opts: { bundleDir?: string } = {}): Record<string, string> {
        const mine = [...this.machines].filter(([k]) => (prefix === PREFIX ? !k.includes("/") : k.startsWith(`${prefix}/`)));
        const users = Object.fromEntries(mine.map(([k, m]) => [k.replace(/^.*\//, ""), { ...m.vm.env(), readyTimeoutSec: 10, healthTimeoutSec: 10 }]));
        return {
            usersFile: this.usersFile,
            forgeUrl: this.forgeTarget.url,
            forgeToken: this.forgeTarget.adminToken,
            computeUrl: this.compute.httpUrl,
            ...(this.compute.opts.token === undefined ? {} : { computeToken: this.compute.opts.token }),
            namePrefix: prefix,
            feedbackRepo: FEEDBACK_REPO,
            booksRepo: "https://forge.example.org/lhumina_public/ourworld_public.git",
            computeConcurrency: "3",
            computePollSeconds: "0.1",
            computeAllowLoopbackBackend: "true",
            purgeAccountsOnTeardown: "true",
            // The fake VMs' sshd runs as the user running the tests, who is root only in CI.
            bootstrapOverrides: JSON.stringify({ port: this.sshPort, sshUser: os.userInfo().username, users, bundleDir: opts.bundleDir ?? path.join(this.dir, "bundles") }),
            ...extra,
        };
    }

    /** A run of the world's default stack under the real CLI; `args`: more CLI arguments (`--target`, …). */
    run(mode: Mode, extra?: Record<string, string>, args: string[] = [], o: Pick<RehearsalOptions, "signal" | "wrap"> = {}): Promise<RunResult> {
        return rehearse(mode, { workspace: this.workspace, stack: STACK, config: this.config(extra), secretKeys: ["forgeToken", "computeToken"], args, ...o });
    }

    /** A run of another stack on the same fakes and backend: its own prefix and fake VMs. */
    runStack(s: StackSpec, mode: Mode, extra: Record<string, string> = {}, args: string[] = []): Promise<RunResult> {
        const config = this.config(extra, s.prefix, { bundleDir: path.join(this.dir, `bundles-${s.stack}`) });
        if (s.defaultPrefix) delete config.namePrefix;
        return rehearse(mode, { workspace: this.workspace, stack: s.stack, config, secretKeys: ["forgeToken", "computeToken"], args });
    }

    /**
     * CPU ms the fake VMs have used so far: their sshds and every session those have
     * ended (the steps' scripts, the stub Hero tools, curl), the work a grid does on each
     * VM. Undefined off Linux. A VM whose sshd was restarted counts from the restart.
     */
    vmCpuMs(): number | undefined {
        let total = 0;
        for (const m of this.machines.values()) {
            const ms = m.sshd.cpuMs();
            if (ms === undefined) return undefined;
            total += ms;
        }
        return total;
    }

    /** Requests the two backends have seen so far. */
    requestCount(): number {
        return this.forge.requests.length + this.compute.requests.length;
    }

    async stop(): Promise<void> {
        // Nothing the CLI started may outlive the world (plugins of a killed run have their own process groups).
        killWorkingIn(this.workspace.projectDir);
        await Promise.all([...this.machines.values()].map(async (m) => Promise.all([m.sshd.stop(), m.vm.close()])));
        this.gateway.closeAllConnections();
        await Promise.all([this.forge.stop(), this.compute.stop(), new Promise((r) => this.gateway.close(r))]);
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}
