/**
 * The parts of a suggested binding that are values rather than names: the
 * state value maps (from the enums of the state fields), the error codes (from
 * the document's `errors`), and the wire types of id params (from their
 * schemas). Each is written only where it differs from the default, and every
 * guess is noted with the document's evidence. Pure.
 */
import type { Binding, OperationName, ResultKind } from "./bind";
import { documentErrors, fieldEnum, type LiveMethod, liveParamsOf, resultFieldSchema, schemaTypes } from "./document";
import { classifyErrors, proposeStates } from "./guess";
import { DEFAULT_ERRORS, ERROR_KINDS, GATEWAY_STATES, VM_STATES } from "./wire";

type Methods = Record<OperationName, LiveMethod | undefined>;

/** The state words the document lists for a result kind's state field, and where. */
export function documentStates(doc: unknown, b: Binding, kind: ResultKind, methods: Methods): { words: string[]; where: string } | undefined {
    const field = b.results[kind]?.state;
    if (!field) return undefined;
    const from = kind === "Vm" ? [methods.getVm, methods.listVms, methods.deployVm] : [methods.getGateway, methods.listGateways, methods.deployGateway];
    for (const m of from) {
        const words = m ? fieldEnum(resultFieldSchema(doc, m, field)) : undefined;
        if (words) return { words, where: `the enum of ${field} in ${m!.name}'s result` };
    }
    return undefined;
}

/** Value maps for the document's state words, where they are not ours as they are. */
export function suggestStates(current: Binding, doc: unknown, b: Binding, methods: Methods, notes: string[]): Binding["states"] | undefined {
    const out: NonNullable<Binding["states"]> = {};
    for (const kind of ["Vm", "Gateway"] as ResultKind[]) {
        const ours: readonly string[] = kind === "Vm" ? VM_STATES : GATEWAY_STATES;
        const listed = documentStates(doc, b, kind, methods);
        if (!listed) {
            if (current.states?.[kind]) out[kind] = current.states[kind];
            if (b.results[kind]?.state) notes.push(`states.${kind}: the document lists no words for ${b.results[kind].state}: ${current.states?.[kind] ? "kept the binding's map" : `they are taken to be ours (${ours.join(", ")})`}; a word that is not stops up with an error naming it`);
            continue;
        }
        const { map, unplaced } = proposeStates(kind as "Vm" | "Gateway", listed.words);
        const identity = unplaced.length === 0 && Object.entries(map).every(([w, o]) => w === o);
        if (!identity) {
            out[kind] = map;
            const guessed = Object.entries(map).filter(([w, o]) => w !== o);
            if (guessed.length > 0) notes.push(`guess: states.${kind} maps ${guessed.map(([w, o]) => `"${w}" to ${o}`).join(", ")}, by the words (${listed.where}: ${listed.words.join(", ")})`);
        }
        for (const w of unplaced) {
            notes.push(`states.${kind}: "${w}" (${listed.where}) could not be placed: map it by hand to one of ${ours.join(", ")}; until then a ${kind === "Vm" ? "VM" : "gateway"} in that state stops up with an error naming it`);
        }
    }
    return Object.keys(out).length > 0 ? out : undefined;
}

/** The error codes of the document's not-found, name-taken and name-exists errors, where they are not the defaults. */
export function suggestErrors(current: Binding, doc: unknown, notes: string[]): Binding["errors"] | undefined {
    const errors = documentErrors(doc);
    const found = classifyErrors(errors);
    const out: NonNullable<Binding["errors"]> = {};
    for (const kind of ERROR_KINDS) {
        const e = found[kind];
        if (!e) {
            if (current.errors?.[kind]) out[kind] = current.errors[kind];
            if (errors.length > 0) notes.push(`errors.${kind}: none of the document's errors (${errors.map((x) => x.code).join(", ")}) reads as ${kind}; ${current.errors?.[kind] ? "kept the binding's" : `the default, code ${DEFAULT_ERRORS[kind].code}, stays`}: check it`);
            continue;
        }
        if (e.code === DEFAULT_ERRORS[kind].code) continue;
        out[kind] = { code: e.code };
        notes.push(`guess: errors.${kind} is code ${e.code}: the document's error ${e.name ?? ""}${e.name ? " " : ""}(${JSON.stringify(e.message)}), by its name and message`);
    }
    return Object.keys(out).length > 0 ? out : undefined;
}

/** Sends our VM ids as integers where the document types the live param so. */
export function suggestTypes(doc: unknown, b: Binding, methods: Methods, notes: string[]): void {
    for (const [op, o] of Object.entries(b.operations) as [OperationName, Binding["operations"][OperationName]][]) {
        const m = methods[op];
        const live = o?.params?.vm_id;
        if (!m || !live || !o) continue;
        const types = schemaTypes(liveParamsOf(doc, m).find((p) => p.name === live)?.schema);
        if (types && !types.includes("string") && (types.includes("integer") || types.includes("number"))) {
            o.types = { ...(o.types ?? {}), vm_id: "integer" };
            notes.push(`guess: operations.${op}.types.vm_id "integer": the document types ${m.name}'s ${live} as ${types.join(" or ")}`);
        } else if (o.types?.vm_id && types?.includes("string")) {
            delete o.types.vm_id;
            if (Object.keys(o.types).length === 0) delete o.types;
        }
    }
}
