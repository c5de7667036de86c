/**
 * `npm run teardown -- <username> [--stack <name>] [--yes]`
 *
 * Destroys one user's environment: prints, then runs,
 * `pulumi destroy --target <the user's component URN> --target-dependents --stack <stack>`.
 * Refuses a username that is neither in the users file nor in the stack's
 * `environments` output, before running anything that changes the stack.
 * Prints no secret: it never asks pulumi for one.
 */
import { parseCommandLine, processIo, runCommand, type CommandIo } from "./lib/command";
import { declaredUsers, environmentsOutput, environmentUrn, findName, notLoadingWarning, projectName, unknownUserMessage } from "./lib/project";
import { formatCommand, readStackOutputs, resolveStack, shortStackName } from "./lib/pulumi-cli";

export const TEARDOWN_USAGE = [
    "usage: npm run teardown -- <username> [--stack <name>] [--yes]",
    "  Destroys the user's environment component and everything under it with",
    "  `pulumi destroy --target <urn> --target-dependents`. --yes skips pulumi's confirmation.",
].join("\n");

/** The destroy command for one user, as printed and as run (without the leading `pulumi`). */
export function destroyArgs(urn: string, stack: string, yes: boolean): string[] {
    return ["destroy", "--target", urn, "--target-dependents", "--stack", stack, ...(yes ? ["--yes"] : [])];
}

export async function teardown(argv: readonly string[], io: CommandIo): Promise<number> {
    return runCommand("teardown", TEARDOWN_USAGE, io, async () => {
        const args = parseCommandLine(argv, ["yes"] as const);
        if (args.help) {
            io.out(TEARDOWN_USAGE);
            return 0;
        }
        const stack = await resolveStack(io.pulumi, args.stack);
        const short = shortStackName(stack);
        const declared = declaredUsers(io.projectDir, short);
        const warning = notLoadingWarning("teardown", declared);
        if (warning !== undefined) {
            io.err(warning);
        }
        // Plain outputs only: the environments record holds no secret.
        const environments = environmentsOutput(await readStackOutputs(io.pulumi, stack, false));
        const inFile = findName(declared.usernames, args.username);
        const deployed = findName(Object.keys(environments), args.username);
        if (inFile === undefined && deployed === undefined) {
            io.err(unknownUserMessage("teardown", args.username, short, declared, Object.keys(environments)));
            return 1;
        }
        const username = inFile ?? deployed ?? args.username;
        if (deployed === undefined) {
            io.out(`${username} is in ${declared.displayPath} but not in the stack's environments output; destroying whatever the stack holds for them.`);
        }
        const destroy = destroyArgs(environmentUrn(short, projectName(io.projectDir), username), stack, args.yes);
        io.out(`Running: ${formatCommand(["pulumi", ...destroy])}`);
        const { code } = await io.pulumi(destroy, "inherit");
        io.out(code === 0 ? `Destroyed the environment of ${username} on stack ${short}.` : `pulumi destroy failed (exit ${code}); the environment of ${username} may be partly gone. Run the same command again once the cause is fixed.`);
        io.out(
            inFile !== undefined
                ? `Reminder: remove ${inFile} from ${declared.displayPath} too, or the next \`pulumi up\` creates their environment again.`
                : declared.readable
                  ? `${username} is no longer in ${declared.displayPath}, so the next \`pulumi up\` will not create them again.`
                  : `${declared.displayPath} does not load, so it cannot be told whether ${username} is still in it: check, or the next \`pulumi up\` after it is fixed creates their environment again.`,
        );
        return code;
    });
}

if (require.main === module) {
    void teardown(process.argv.slice(2), processIo()).then((code) => {
        process.exitCode = code;
    });
}
