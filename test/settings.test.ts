/**
 * Stack config read by components/settings.ts, where a value needs more than a getter.
 */
import { describe, expect, it } from "vitest";
import { parseLogins } from "../components/settings";

describe("frontDoorAdmins", () => {
    it("takes Forge logins separated by commas or spaces, keeping the first spelling of each (case is not identity)", () => {
        expect(parseLogins("ana,ben")).toEqual(["ana", "ben"]);
        expect(parseLogins(" ana, Ben  ANA,ben.d-x_1 ")).toEqual(["ana", "Ben", "ben.d-x_1"]);
        expect(parseLogins("")).toEqual([]);
    });

    it("refuses what is not a login, naming the key, an example and every bad entry", () => {
        expect(() => parseLogins("ana,-ben,c;d")).toThrow('config hero-os-grid-deployer:frontDoorAdmins must list Forge logins separated by commas, e.g. "ana,ben"; not a login: "-ben", "c;d"');
    });
});
