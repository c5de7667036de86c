/**
 * `npm run handout -- <username> [--stack <name>] [--show-secrets]`
 *
 * Prints the welcome message for one user, built from the stack outputs. The
 * temporary password is in it only with --show-secrets; without that flag the
 * command never asks pulumi for a secret, so none can leak into its output.
 */
import { parseCommandLine, processIo, runCommand, type CommandIo } from "./lib/command";
import { orMissing } from "./lib/health";
import { printableIo } from "./lib/terminal";
import { declaredUsers, environmentsOutput, findName, notLoadingWarning, unknownUserMessage, type CredentialsOutput, type EnvironmentOutput } from "./lib/project";
import { readStackOutputs, resolveStack, shortStackName } from "./lib/pulumi-cli";

export const HANDOUT_USAGE = [
    "usage: npm run handout -- <username> [--stack <name>] [--show-secrets]",
    "  Prints the welcome message for the user. --show-secrets includes the temporary password.",
].join("\n");

/** What the message says about the password: the password itself, or why it is not there. */
export type PasswordLine = { kind: "hidden" } | { kind: "shown"; password: string } | { kind: "adopted" };

/** The welcome message. Pure: everything it prints is in its arguments; a field the outputs lack is named as missing. */
export function welcomeMessage(username: string, env: Partial<EnvironmentOutput>, password: PasswordLine, bringOwnForgeToken: boolean): string {
    const lines = [
        `Welcome to your Hero OS demo environment, ${username}!`,
        "",
        `  Cockpit:   ${orMissing(env.cockpitUrl, "cockpit URL")}`,
        `  Forge:     ${orMissing(env.forgeUrl, "Forge URL")}`,
        `  Login:     ${orMissing(env.forgeLogin, "Forge login")}`,
    ];
    if (password.kind === "shown") {
        lines.push(`  Password:  ${password.password}   (temporary: change it in the Forge under Settings > Account)`);
    } else if (password.kind === "adopted") {
        lines.push("  Password:  your existing Forge password (your account was there before this demo)");
    } else {
        lines.push("  Password:  (sent to you separately)");
    }
    if (typeof env.expires === "string" && env.expires !== "") {
        lines.push(`  Expires:   ${env.expires} (the environment and everything in it are deleted after this day)`);
    }
    lines.push("", "Sign in to the cockpit with your Forge login.");
    if (bringOwnForgeToken) {
        lines.push(
            "Your Forge account existed before, so the cockpit has no Forge token yet: create one in the Forge",
            "(Settings > Applications > Generate new token) and paste it into the cockpit settings.",
        );
    }
    lines.push(
        "",
        "AI keys: bring your own. The environment comes with no AI provider key. Get a key from",
        "OpenRouter, Groq or SambaNova and paste it into the cockpit settings (AI providers).",
        "The key stays in your environment; remove it there when you are done.",
        "",
        "This is a demo environment, not for production: it can be reset or deleted at any time and",
        "data in it may be lost. Keep nothing there that you cannot lose, and no real secrets.",
    );
    return lines.join("\n");
}

export async function handout(argv: readonly string[], rawIo: CommandIo): Promise<number> {
    // The outputs it prints (URLs, names, notes) are made printable: no control character reaches the terminal.
    const io = printableIo(rawIo);
    return runCommand("handout", HANDOUT_USAGE, io, async () => {
        const args = parseCommandLine(argv, ["show-secrets"] as const);
        if (args.help) {
            io.out(HANDOUT_USAGE);
            return 0;
        }
        const showSecrets = args["show-secrets"];
        const stack = await resolveStack(io.pulumi, args.stack);
        const short = shortStackName(stack);
        const declared = declaredUsers(io.projectDir, short);
        const warning = notLoadingWarning("handout", declared);
        if (warning !== undefined) {
            io.err(warning);
        }
        // Secrets are requested from pulumi only when the admin asked for them.
        const outputs = await readStackOutputs(io.pulumi, stack, showSecrets);
        const environments = environmentsOutput(outputs);
        const inFile = findName(declared.usernames, args.username);
        const deployed = findName(Object.keys(environments), args.username);
        if (deployed === undefined) {
            io.err(
                inFile === undefined
                    ? unknownUserMessage("handout", args.username, short, declared, Object.keys(environments))
                    : `handout: ${inFile} is in ${declared.displayPath} but has no environment on stack ${short} yet; run \`pulumi up\` first.`,
            );
            return 1;
        }
        let password: PasswordLine = { kind: "hidden" };
        let bringOwnForgeToken = false;
        if (showSecrets) {
            const creds = credentialsFor(outputs, deployed);
            password = creds.password === "" ? { kind: "adopted" } : { kind: "shown", password: creds.password };
            bringOwnForgeToken = creds.forgeToken === "";
            io.err("handout: this message holds a password: send it to the user over a private channel, and to no one else.");
        }
        io.out(welcomeMessage(deployed, environments[deployed], password, bringOwnForgeToken));
        return 0;
    });
}

/** A user's entry in the `credentials` output, read only with --show-secrets. */
function credentialsFor(outputs: Record<string, unknown>, username: string): CredentialsOutput {
    const all = outputs.credentials;
    if (all === null || typeof all !== "object" || Array.isArray(all)) {
        throw new Error("the stack has no readable `credentials` output (was it deployed by this version?)");
    }
    const mine = (all as Record<string, unknown>)[username];
    if (mine === null || typeof mine !== "object" || typeof (mine as CredentialsOutput).password !== "string") {
        throw new Error(`the stack output \`credentials\` has no entry for ${username}`);
    }
    return mine as CredentialsOutput;
}

if (require.main === module) {
    void handout(process.argv.slice(2), processIo()).then((code) => {
        process.exitCode = code;
    });
}
