/**
 * A throwaway program for the engine's own test: per name in config `demoUsers`
 * (comma-separated), a tls key, a dynamic "file" resource that authorises the
 * key on the local sshd (stands in for the VM), and a remote command over SSH
 * with that key, plus a cleanup command deleted with the file.
 */
import * as os from "os";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as tls from "@pulumi/tls";
import { DemoFile } from "./provider";

const config = new pulumi.Config("hero-os-grid-deployer");
const users = config.require("demoUsers").split(",").filter(Boolean);
const sshPort = config.requireNumber("sshPort");
const marker = config.require("markerDir");
const version = config.get("version") ?? "1";
const failUser = config.get("failUser");

class Demo extends pulumi.ComponentResource {
    declare readonly stdout: pulumi.Output<string>;

    constructor(name: string) {
        super("hero:demo:Demo", name, {});
        const key = new tls.PrivateKey(`${name}-ssh-key`, { algorithm: "ED25519" }, { parent: this });
        const file = new DemoFile(`${name}-vm`, { name: `${name}.pub`, content: key.publicKeyOpenssh }, { parent: this });
        // The local sshd runs as whoever runs the tests (root in CI), and accepts only that user.
        const connection = { host: "127.0.0.1", port: sshPort, user: os.userInfo().username, privateKey: key.privateKeyOpenssh };
        const step = new command.remote.Command(
            `${name}-install`,
            {
                connection,
                create: `echo "install $DEMO_USER v${version}" >> ${marker}/${name}.log && ${name === failUser ? "exit 7" : "echo done"}`,
                delete: `echo "uninstall $DEMO_USER" >> ${marker}/${name}.log`,
                environment: { DEMO_USER: name },
                triggers: [config.get("trigger") ?? "t1"],
            },
            { parent: this, dependsOn: [file] },
        );
        new command.remote.Command(
            `${name}-cleanup`,
            { connection, create: "true", delete: `echo "cleanup must be skipped" >> ${marker}/${name}.log` },
            { parent: this, dependsOn: [step], deletedWith: file },
        );
        this.stdout = step.stdout;
        this.registerOutputs({ stdout: this.stdout });
    }
}

const demos = users.map((u) => new Demo(u));
export const stdout = Object.fromEntries(users.map((u, i) => [u, demos[i].stdout]));
export const publicKeys = pulumi.secret("hidden");
