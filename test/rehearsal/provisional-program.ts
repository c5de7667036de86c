/**
 * PROVISIONAL: the per-user wiring the lead's DemoEnvironment is expected to do
 * (ForgeAccount, HeroVm, HeroGateway, bootstrap), so that the scenarios can be
 * developed before components/environment.ts wires them. Deleted once it does;
 * the scenarios then run index.ts. Reads the same stack config, plus the
 * test-only `bootstrapOverrides` the rehearsal asks the lead for.
 */
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import { createBootstrap } from "../../components/bootstrap";
import { childName } from "../../components/naming";
import { loadUsersForStack } from "../../components/program";
import { routerUrlFor } from "../../components/render";
import { readSettings } from "../../components/settings";
import { ForgeAccount } from "../../providers/forge";
import { HeroGateway } from "../../providers/gateway";
import { HeroVm } from "../../providers/vm";

const settings = readSettings();
const overrides = JSON.parse(new pulumi.Config("hero-os-grid-deployer").get("bootstrapOverrides") ?? "{}");
const users = loadUsersForStack(settings);

class Env extends pulumi.ComponentResource {
    declare readonly summary: pulumi.Output<unknown>;
    constructor(name: string, user: (typeof users)[number]) {
        super("hero:demo:Environment", name, {});
        const parent = this;
        const key = new tls.PrivateKey(childName(user.username, "ssh-key"), { algorithm: "ED25519" }, { parent });
        const password = new random.RandomPassword(childName(user.username, "password"), { length: 24, special: true, overrideSpecial: "-_.~!" }, { parent });
        const account = new ForgeAccount(childName(user.username, "forge-account"), {
            username: user.username, email: user.email, fullName: user.fullName, password: password.result, feedbackRepo: settings.feedbackRepo,
        }, { parent });
        const vm = new HeroVm(childName(user.username, "vm"), {
            name: user.gridName, username: user.username, memoryMb: user.vm.memoryMb, cpu: user.vm.cpu, diskGb: user.vm.diskGb,
            sshKeys: [key.publicKeyOpenssh, ...user.sshKeys],
        }, { parent });
        const gateway = new HeroGateway(childName(user.username, "gateway"), {
            name: user.gatewayName, username: user.username, backend: vm.myceliumIp.apply(routerUrlFor), vmId: vm.vmId,
        }, { parent });
        createBootstrap(this, {
            user, vm, host: vm.myceliumIp, privateKey: key.privateKeyOpenssh, gatewayUrl: pulumi.interpolate`https://${gateway.fqdn}`,
            forgeUrl: settings.forgeUrl, forgeLogin: account.login, forgeToken: account.token, feedbackRepo: settings.feedbackRepo,
            booksRepo: settings.booksRepo, labChannel: settings.labChannel, port: overrides.port, env: overrides.users?.[user.username],
        });
        this.summary = pulumi.output({ vmId: vm.vmId, myceliumIp: vm.myceliumIp, gatewayFqdn: gateway.fqdn, login: account.login });
        this.registerOutputs({ summary: this.summary });
    }
}

const envs = users.map((u) => new Env(u.username.toLowerCase(), u));
export const environments = Object.fromEntries(envs.map((e, i) => [users[i].username, e.summary]));
