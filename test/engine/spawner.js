/**
 * The stand-in command plugin's process runner: starts the ssh and sftp clients that
 * imitate the command provider, on the plugin's behalf. The plugin's process holds
 * ts-node and the SDK, and forking it for each client costs its one thread tens of ms
 * per step on the 2-core test machine; this process is small.
 * (The provider itself speaks SSH in-process, with no fork at all.)
 *
 * Protocol: one JSON request per line on stdin, `{ id, file, args, input, env }`; one
 * JSON answer per line on stdout, `{ id, code, stdout, stderr }` (code 255 when the
 * process could not start or was killed by a signal, as execFile reports it). Exits
 * when stdin ends. Plain JavaScript, so it starts without ts-node.
 */
"use strict";
const { spawn } = require("child_process");
const readline = require("readline");

const MAX_BUFFER = 64 << 20;

function runOne(req) {
    return new Promise((resolve) => {
        let stdout = "";
        let stderr = "";
        let done = false;
        const finish = (code, extra = "") => {
            if (done) return;
            done = true;
            resolve({ id: req.id, code, stdout, stderr: stderr + extra });
        };
        let child;
        try {
            child = spawn(req.file, req.args, { env: req.env });
        } catch (err) {
            return finish(255, String(err && err.message));
        }
        child.stdout.setEncoding("utf8").on("data", (d) => {
            stdout += d;
            if (stdout.length > MAX_BUFFER) child.kill();
        });
        child.stderr.setEncoding("utf8").on("data", (d) => {
            stderr += d;
            if (stderr.length > MAX_BUFFER) child.kill();
        });
        child.on("error", (err) => finish(255, String(err.message)));
        child.on("close", (code) => finish(typeof code === "number" ? code : 255));
        child.stdin.on("error", () => {});
        child.stdin.end(req.input ?? "");
    });
}

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
    if (!line.trim()) return;
    runOne(JSON.parse(line)).then((answer) => process.stdout.write(`${JSON.stringify(answer)}\n`));
});
rl.on("close", () => process.exit(0));
