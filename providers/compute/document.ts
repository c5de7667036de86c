/**
 * Reading a live OpenRPC document: its methods, their params (content
 * descriptors, `$ref`s followed) and the fields of their results. Pure.
 */

export interface LiveSchema {
    type?: string | string[];
    pattern?: string;
    format?: string;
    items?: LiveSchema;
    default?: unknown;
    examples?: unknown[];
    description?: string;
    properties?: Record<string, unknown>;
    $ref?: string;
}

export interface LiveParam {
    name: string;
    required: boolean;
    description?: string;
    schema?: LiveSchema;
}

export interface LiveMethod {
    name: string;
    params?: unknown[];
    result?: { schema?: LiveSchema };
    errors?: unknown[];
}

/** Follows a local `$ref` (`#/components/...`) once or more; anything else is returned as is. */
export function deref<T>(doc: unknown, x: T): T {
    let cur: unknown = x;
    for (let hops = 0; hops < 10; hops++) {
        const ref = (cur as { $ref?: unknown } | null)?.$ref;
        if (typeof ref !== "string" || !ref.startsWith("#/")) return cur as T;
        cur = ref
            .slice(2)
            .split("/")
            .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
            .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], doc);
    }
    return cur as T;
}

export function liveMethods(doc: unknown): LiveMethod[] {
    const methods = (doc as { methods?: unknown } | undefined)?.methods;
    return Array.isArray(methods) ? methods.map((m) => deref<LiveMethod>(doc, m)).filter((m) => typeof m?.name === "string") : [];
}

export function liveMethod(doc: unknown, name: string): LiveMethod | undefined {
    return liveMethods(doc).find((m) => m.name === name);
}

export function liveParamsOf(doc: unknown, m: LiveMethod): LiveParam[] {
    return (Array.isArray(m.params) ? m.params : [])
        .map((p) => deref<Record<string, unknown>>(doc, p as Record<string, unknown>))
        .filter((p) => typeof p?.name === "string")
        .map((p) => ({ name: String(p.name), required: p.required === true, description: p.description as string | undefined, schema: deref<LiveSchema | undefined>(doc, p.schema as LiveSchema | undefined) }));
}

/** The schema of one item of the method's result: the result itself, or an array's items. */
export function resultItemSchema(doc: unknown, m: LiveMethod): LiveSchema | undefined {
    const result = deref<{ schema?: LiveSchema } | undefined>(doc, m.result);
    let schema = deref<LiveSchema | undefined>(doc, result?.schema);
    if (schema?.type === "array") schema = deref<LiveSchema | undefined>(doc, schema.items);
    return schema;
}

/** The field names of the method's result (of one item, for a list); undefined when the document does not describe them. */
export function resultProperties(doc: unknown, m: LiveMethod): string[] | undefined {
    const props = resultItemSchema(doc, m)?.properties;
    return props && typeof props === "object" ? Object.keys(props) : undefined;
}

/** The schema of one field of the method's result (of one item, for a list), `$ref`s followed. */
export function resultFieldSchema(doc: unknown, m: LiveMethod, field: string): LiveSchema | undefined {
    const props = resultItemSchema(doc, m)?.properties as Record<string, unknown> | undefined;
    return props && field in props ? deref<LiveSchema | undefined>(doc, props[field] as LiveSchema) : undefined;
}

/** The words a result field may hold, when the document lists them (`enum`). */
export function fieldEnum(schema: LiveSchema | undefined): string[] | undefined {
    const e = (schema as { enum?: unknown } | undefined)?.enum;
    return Array.isArray(e) ? e.filter((x): x is string => typeof x === "string") : undefined;
}

export interface LiveError {
    /** Its name under `components.errors`, when it has one. */
    name?: string;
    code: number;
    message: string;
}

/** Every error the document describes: under `components.errors` and in the methods' `errors`, `$ref`s followed, once per code and message. */
export function documentErrors(doc: unknown): LiveError[] {
    const out = new Map<string, LiveError>();
    const add = (name: string | undefined, e: unknown) => {
        const x = deref<{ code?: unknown; message?: unknown } | undefined>(doc, e as { code?: unknown });
        if (!x || typeof x.code !== "number") return;
        const message = typeof x.message === "string" ? x.message : "";
        const key = `${x.code} ${message}`;
        if (!out.has(key)) out.set(key, { ...(name ? { name } : {}), code: x.code, message });
    };
    const named = (doc as { components?: { errors?: Record<string, unknown> } } | undefined)?.components?.errors;
    for (const [name, e] of Object.entries(named ?? {})) add(name, e);
    for (const m of liveMethods(doc)) for (const e of Array.isArray(m.errors) ? m.errors : []) add(undefined, e);
    return [...out.values()];
}

/** The JSON types a schema allows, `null` left out (an optional field may be null). */
export function schemaTypes(schema: LiveSchema | undefined): string[] | undefined {
    const t = schema?.type;
    if (t === undefined) return undefined;
    return (Array.isArray(t) ? t : [t]).filter((x) => x !== "null");
}
