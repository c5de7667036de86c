import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import type { DemoUser } from "../users/types";
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
}

/** What an admin needs to know about one environment; nothing secret. */
export interface EnvironmentSummary {
    cockpitUrl: string;
    forgeUrl: string;
    forgeLogin: string;
    vmId: string;
    computeEndpoint: string;
    node: number;
    myceliumIp: string;
    gatewayFqdn: string;
    services: string[];
    expires?: string;
}

/** What the user is handed; every field is secret. */
export interface EnvironmentCredentials {
    password: string;
    sshPrivateKey: string;
    forgeToken: string;
}

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
        const { user } = args;
        const sshKey = this.createSshKey(user);
        const password = this.createPassword(user);

        this.username = user.username;
        this.summary = pulumi.output({
            cockpitUrl: "",
            forgeUrl: args.settings.forgeUrl,
            forgeLogin: user.username,
            vmId: "",
            computeEndpoint: "",
            node: 0,
            myceliumIp: "",
            gatewayFqdn: "",
            services: user.services,
            expires: user.expires,
        });
        this.credentials = pulumi.secret({ password: password.result, sshPrivateKey: sshKey.privateKeyOpenssh, forgeToken: "" });
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
}
