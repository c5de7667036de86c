import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import { ForgeAccount } from "../providers/forge/account";
import { ForgeLogin } from "../providers/forge/login";
import { HeroGateway } from "../providers/compute/gateway";
import { HeroVm } from "../providers/compute/vm";
import type { DemoUser } from "../users/types";
import { createBootstrap } from "./bootstrap";
import { FRONT_DOOR_PORT } from "./hero-cli";
import { childName } from "./naming";
import type { DeployerSettings } from "./settings";

export interface DemoEnvironmentArgs {
    /**
     * The validated user from the users file, with defaults applied.
     * @example loadUsersFile("users/users.yaml", opts).users[0]
     */
    user: DemoUser;
    /** Stack settings (Forge URL, feedback repo, Books repo, lab channel). */
    settings: DeployerSettings;
    /** Resources every user's account waits for, e.g. the stack's feedback hub. @default [] */
    accountDependsOn?: pulumi.Resource[];
}

/** What an admin needs to know about one environment; nothing secret. */
export interface EnvironmentSummary {
    cockpitUrl: string;
    forgeUrl: string;
    forgeLogin: string;
    vmId: string;
    computeEndpoint: string;
    node: number | null;
    myceliumIp: string;
    gatewayFqdn: string;
    services: string[];
    expires?: string;
    /** Empty, or why the user has no minted Forge token (an adopted account). */
    forgeTokenNote: string;
    /** "" when this stack owns the Forge account; else who manages it (another stack, or nobody of this tool). */
    forgeManagedBy: string;
    /** The VM's SSH host key, `ssh-ed25519 <base64>`, pinned at the first connection (see components/host-key.ts). */
    sshHostKey: string;
    /** The client id of the Forge OAuth2 application Hero Proxy logs the user in with. */
    oauthClientId: string;
    /** The last bootstrap's result: the health step's last line. */
    bootstrap: string;
}

/** What the user is handed; every field is secret. */
export interface EnvironmentCredentials {
    password: string;
    sshPrivateKey: string;
    forgeToken: string;
}

/** The last non-empty line of a step's output: what the health step concluded. */
export function lastLine(text: string): string {
    return text.split("\n").map((l) => l.trim()).filter((l) => l !== "").pop() ?? "";
}

/** Hero Cockpit's path behind Hero Proxy: the gateway URL lands there. */
export const COCKPIT_PATH = "/hero_cockpit/web/";

/**
 * One user's Hero OS demo environment: Forge account, SSH key, VM, web gateway
 * and the bootstrapped services. Every child is named `<username>-<role>`.
 */
export class DemoEnvironment extends pulumi.ComponentResource {
    declare readonly username: string;
    declare readonly summary: pulumi.Output<EnvironmentSummary>;
    declare readonly credentials: pulumi.Output<EnvironmentCredentials>;

    constructor(name: string, args: DemoEnvironmentArgs, opts?: pulumi.ComponentResourceOptions) {
        super("hero:demo:Environment", name, {}, opts);
        const { user, settings } = args;
        const sshKey = this.createSshKey(user);
        const password = this.createPassword(user);
        const account = this.createAccount(user, password, settings, args.accountDependsOn ?? []);
        const vm = this.createVm(user, sshKey);
        const gateway = this.createGateway(user, vm);
        const login = this.createLogin(user, gateway, settings);
        const sessionSecret = this.createSessionSecret(user);
        const { steps, hostKey } = createBootstrap(this, {
            user,
            vm,
            vmName: user.gridName,
            vmId: vm.vmId,
            vmIdentity: pulumi.interpolate`${vm.computeEndpoint}#${vm.vmId}`,
            host: vm.myceliumIp,
            // PKCS#8 PEM: what the command provider's Go parser takes, at a third of the
            // OpenSSH form's size in every SSH resource's state. Users get the OpenSSH form.
            privateKey: sshKey.privateKeyPemPkcs8,
            gatewayUrl: gateway.url,
            forgeUrl: settings.forgeUrl,
            forgeLogin: account.login,
            forgeToken: account.token,
            login: { clientId: login.clientId, clientSecret: login.clientSecret, sessionSecret: sessionSecret.result, admins: settings.frontDoorAdmins },
            feedbackRepo: settings.feedbackRepo,
            booksRepo: settings.booksRepo,
            labChannel: settings.labChannel,
            lab: { release: settings.labRelease, sha256: settings.labSha256 },
            // Unset on a real stack: root@<mycelium ip>:22 with the VM's real paths.
            port: settings.bootstrapOverrides.port,
            sshUser: settings.bootstrapOverrides.sshUser,
            env: settings.bootstrapOverrides.users?.[user.username],
            bundleDir: settings.bootstrapOverrides.bundleDir,
        });

        this.username = user.username.toLowerCase();
        // One Output for the summary: the cockpit URL resolves only once the health step has passed.
        const parts = {
            url: gateway.url,
            health: steps.health.stdout,
            forgeLogin: account.login,
            vmId: vm.vmId,
            computeEndpoint: vm.computeEndpoint,
            node: vm.nodeId,
            myceliumIp: vm.myceliumIp,
            gatewayFqdn: gateway.fqdn,
            forgeTokenNote: account.tokenNote,
            forgeManagedBy: account.managedBy,
            sshHostKey: hostKey.hostKey,
            oauthClientId: login.clientId,
        };
        this.summary = pulumi.output(parts).apply(({ url, health, ...p }): EnvironmentSummary => ({
            cockpitUrl: `${url.replace(/\/+$/, "")}${COCKPIT_PATH}`,
            forgeUrl: settings.forgeUrl,
            forgeLogin: p.forgeLogin,
            vmId: p.vmId,
            computeEndpoint: p.computeEndpoint,
            node: p.node,
            myceliumIp: p.myceliumIp,
            gatewayFqdn: p.gatewayFqdn,
            services: user.services,
            expires: user.expires,
            forgeTokenNote: p.forgeTokenNote,
            forgeManagedBy: p.forgeManagedBy,
            sshHostKey: p.sshHostKey,
            oauthClientId: p.oauthClientId,
            bootstrap: lastLine(health),
        }));
        this.credentials = pulumi.secret({ password: password.result, sshPrivateKey: sshKey.privateKeyOpenssh, forgeToken: account.token });
        this.registerOutputs({ summary: this.summary, credentials: this.credentials });
    }

    /** The VM's dedicated key. ED25519: small, and what the grid's SSH_KEY takes. */
    private createSshKey(user: DemoUser): tls.PrivateKey {
        return new tls.PrivateKey(childName(user.username, "ssh-key"), { algorithm: "ED25519" }, { parent: this });
    }

    /** The Forge password. Rotate it with `pulumi up --replace <urn of <username>-password>`. */
    private createPassword(user: DemoUser): random.RandomPassword {
        return new random.RandomPassword(
            childName(user.username, "password"),
            { length: 24, special: true, overrideSpecial: "-_.~!", minLower: 2, minUpper: 2, minNumeric: 2, minSpecial: 1 },
            { parent: this },
        );
    }

    /** Checks the Forge account, creates it if missing, mints the cockpit's token and grants feedback access. */
    private createAccount(user: DemoUser, password: random.RandomPassword, settings: DeployerSettings, dependsOn: pulumi.Resource[]): ForgeAccount {
        return new ForgeAccount(
            childName(user.username, "forge-account"),
            {
                username: user.username,
                email: user.email,
                fullName: user.fullName,
                password: password.result,
                feedbackRepo: settings.feedbackRepo,
                stack: settings.identity.stack,
                stackId: settings.identity.id,
            },
            { parent: this, dependsOn },
        );
    }

    /**
     * The front door's Forge login: an OAuth2 application whose redirect URI is on the
     * user's gateway. Rotate its secret with `pulumi up --replace <urn of <username>-forge-login>`.
     */
    private createLogin(user: DemoUser, gateway: HeroGateway, settings: DeployerSettings): ForgeLogin {
        return new ForgeLogin(
            childName(user.username, "forge-login"),
            { username: user.username, gatewayUrl: gateway.url, stack: settings.identity.stack, stackId: settings.identity.id },
            { parent: this },
        );
    }

    /** What Hero Proxy signs its sessions with. Rotate it (logging everyone out) with `--replace` on `<username>-session-secret`. */
    private createSessionSecret(user: DemoUser): random.RandomPassword {
        return new random.RandomPassword(childName(user.username, "session-secret"), { length: 48, special: false }, { parent: this });
    }

    /** The user's one VM: the deployer's key first, then the person's own keys. */
    private createVm(user: DemoUser, sshKey: tls.PrivateKey): HeroVm {
        return new HeroVm(
            childName(user.username, "vm"),
            {
                name: user.gridName,
                username: user.username,
                memoryMb: user.vm.memoryMb,
                cpu: user.vm.cpu,
                diskGb: user.vm.diskGb,
                node: user.vm.node,
                sshKeys: sshKey.publicKeyOpenssh.apply((deployer) => [deployer.trim(), ...user.sshKeys]),
            },
            { parent: this },
        );
    }

    /** The public URL: the gateway points at Hero Proxy, the VM's front door. */
    private createGateway(user: DemoUser, vm: HeroVm): HeroGateway {
        return new HeroGateway(
            childName(user.username, "gateway"),
            {
                name: user.gatewayName,
                username: user.username,
                backend: vm.myceliumIp.apply((ip) => `http://${ip.includes(":") ? `[${ip}]` : ip}:${FRONT_DOOR_PORT}`),
                vmId: vm.vmId,
            },
            { parent: this },
        );
    }
}
