/**
 * A throwaway dynamic provider for the engine's own test: a "file" resource
 * under the directory named by stack config `demoDir` (read in configure()).
 * `content` changes update in place; `name` changes replace, deleting first.
 */
import * as pulumi from "@pulumi/pulumi";

export const fileProvider: pulumi.dynamic.ResourceProvider & { dir?: string } = {
    async configure(req: pulumi.dynamic.ConfigureRequest) {
        this.dir = req.config.require("hero-os-grid-deployer:demoDir");
    },
    async check(_olds: any, news: any) {
        return { inputs: news, failures: typeof news.name === "string" ? [] : [{ property: "name", reason: "name is required" }] };
    },
    async diff(_id: string, olds: any, news: any) {
        const replaces = olds.name === news.name ? [] : ["name"];
        return { changes: replaces.length > 0 || olds.content !== news.content, replaces, deleteBeforeReplace: true };
    },
    async create(inputs: any) {
        const fs = require("fs");
        const file = require("path").join(this.dir, inputs.name);
        fs.writeFileSync(file, inputs.content);
        fs.appendFileSync(require("path").join(this.dir, "journal"), `create ${inputs.name}\n`);
        return { id: inputs.name, outs: { ...inputs, path: file } };
    },
    async update(_id: string, _olds: any, news: any) {
        const fs = require("fs");
        const file = require("path").join(this.dir, news.name);
        fs.writeFileSync(file, news.content);
        fs.appendFileSync(require("path").join(this.dir, "journal"), `update ${news.name}\n`);
        return { outs: { ...news, path: file } };
    },
    async delete(id: string) {
        const fs = require("fs");
        fs.rmSync(require("path").join(this.dir, id), { force: true });
        fs.appendFileSync(require("path").join(this.dir, "journal"), `delete ${id}\n`);
    },
};

export class DemoFile extends pulumi.dynamic.Resource {
    declare readonly path: pulumi.Output<string>;

    constructor(name: string, args: { name: pulumi.Input<string>; content: pulumi.Input<string> }, opts?: pulumi.CustomResourceOptions) {
        super(fileProvider, name, { ...args, path: undefined }, opts, "hero", "DemoFile");
    }
}
