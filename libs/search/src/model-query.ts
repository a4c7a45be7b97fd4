import {
  assertQueryBounded,
  COLUMNS,
  type Condition,
  type Field,
  PATH_ROOTS,
  type Query,
  QueryError,
} from "@atoll/ir";
import { depthExceeds } from "@atoll/kube";
import { z } from "zod";

/**
 * The query IR as a language model may write it: the IR itself, in JSON, without the owner
 * condition (which names objects by uid) and with every string and list bounded. What the model
 * writes is data checked against this schema, never text run as SQL.
 */
const name = z.string().min(1).max(253);
const field = z.union([
  z.object({ kind: z.literal("column"), name: z.enum(COLUMNS) }).strict(),
  z.object({ kind: z.literal("label"), key: name }).strict(),
  z.object({ kind: z.literal("annotation"), key: name }).strict(),
  z
    .object({
      kind: z.literal("path"),
      segments: z
        .array(name)
        .min(1)
        .max(16)
        .refine((s) => (PATH_ROOTS as readonly string[]).includes(s[0]!), {
          message: `paths start at ${PATH_ROOTS.join(", ")}`,
        }),
    })
    .strict(),
]);
const scalar = z.union([z.string().max(1024), z.number().finite(), z.boolean()]);
const comparison = z.enum(["=", "!=", "<", "<=", ">", ">="]);
const condition: z.ZodType<Condition> = z.lazy(() =>
  z.union([
    z.object({ type: z.enum(["and", "or"]), of: z.array(condition).min(1).max(100) }).strict(),
    z.object({ type: z.literal("not"), of: condition }).strict(),
    z.object({ type: z.literal("compare"), field, op: comparison, value: scalar }).strict(),
    z.object({ type: z.literal("compareFields"), left: field, op: comparison, right: field }).strict(),
    z
      .object({ type: z.literal("in"), field, values: z.array(scalar).min(1).max(100), negated: z.boolean() })
      .strict(),
    z
      .object({
        type: z.literal("like"),
        field,
        pattern: z.string().max(1024),
        negated: z.boolean(),
        caseInsensitive: z.boolean(),
      })
      .strict(),
    z.object({ type: z.literal("null"), field, negated: z.boolean() }).strict(),
    z
      .object({
        type: z.literal("label"),
        requirement: z
          .object({
            key: name,
            operator: z.enum(["=", "!=", "in", "notin", "exists", "!", "gt", "lt"]),
            values: z.array(z.string().max(63)).max(100),
          })
          .strict(),
      })
      .strict(),
    z.object({ type: z.literal("status"), value: name }).strict(),
    z
      .object({
        type: z.literal("condition"),
        name,
        status: z.enum(["True", "False", "Unknown"]),
        negated: z.boolean(),
      })
      .strict(),
    z
      .object({ type: z.literal("age"), op: z.enum(["<", ">"]), seconds: z.number().int().positive() })
      .strict(),
    z.object({ type: z.literal("text"), words: z.array(z.string().min(1).max(100)).min(1).max(20) }).strict(),
  ]),
) as z.ZodType<Condition>;
const query = z
  .object({
    where: condition.optional(),
    orderBy: z
      .array(z.object({ field, direction: z.enum(["asc", "desc"]) }).strict())
      .max(5)
      .default([]),
    limit: z.number().int().min(1).max(1000).optional(),
    aggregate: z
      .object({ groupBy: z.array(field).max(4) })
      .strict()
      .optional(),
  })
  .strict();

/** How the model is told to answer: the IR's shape, with examples of the conditions it will need most. */
export const MODEL_INSTRUCTIONS = `You translate questions about Kubernetes objects into a JSON query over an index of objects. Answer with one JSON object only:
{"where": Condition?, "orderBy": [{"field": Field, "direction": "asc"|"desc"}], "limit": n?, "aggregate": {"groupBy": [Field]}?}
Field: {"kind":"column","name": one of ${COLUMNS.join(", ")}} | {"kind":"label","key":"team"} | {"kind":"annotation","key":"k"} | {"kind":"path","segments":["status","phase"]} ("*" is every element of a list: ["spec","containers","*","image"]).
Condition: {"type":"and"|"or","of":[Condition]} | {"type":"not","of":Condition} | {"type":"compare","field":Field,"op":"="|"!="|"<"|"<="|">"|">=","value":string|number|boolean} | {"type":"compareFields","left":Field,"op":...,"right":Field} | {"type":"in","field":Field,"values":[...],"negated":false} | {"type":"like","field":Field,"pattern":"%web%","negated":false,"caseInsensitive":true} | {"type":"null","field":Field,"negated":false} | {"type":"label","requirement":{"key":"team","operator":"=","values":["payments"]}} | {"type":"status","value":"CrashLoopBackOff"} | {"type":"condition","name":"Ready","status":"True","negated":true} | {"type":"age","op":"<","seconds":3600} | {"type":"text","words":["checkout"]}.
Kinds are singular and capitalised (Pod, Deployment). "aggregate" counts objects per group instead of listing them; with "limit" it keeps the largest groups.`;

/** The largest reply read; a query is a few hundred bytes. */
const MAX_REPLY_CHARS = 32 * 1024;
const MAX_REPLY_DEPTH = 40;

/** Takes the JSON out of a reply that may wrap it in a Markdown code fence. */
function jsonOfReply(reply: string): string {
  const fenced = /```(?:json)?\s*([\s\S]*?)```/i.exec(reply);
  return (fenced ? fenced[1]! : reply).trim();
}

function columnValues(
  c: Condition | undefined,
  column: "cluster" | "namespace",
  into: Set<string>,
): Set<string> {
  if (!c) return into;
  const isColumn = (f: Field) => f.kind === "column" && f.name === column;
  switch (c.type) {
    case "and":
    case "or":
      for (const of of c.of) columnValues(of, column, into);
      break;
    case "not":
      columnValues(c.of, column, into);
      break;
    case "compare":
      if (isColumn(c.field)) into.add(String(c.value));
      break;
    case "in":
      if (isColumn(c.field)) for (const v of c.values) into.add(String(v));
      break;
  }
  return into;
}

/**
 * A model's reply as a query, or a QueryError saying why not: it must be the IR's JSON, within the
 * schema and the query bounds, and name only clusters and namespaces the asker can see (the
 * answer's SQL would otherwise tell of them). The asker's grants still bound what it returns.
 */
export function queryOfModelReply(
  reply: string,
  visible: { clusters?: readonly string[]; namespaces?: readonly string[] },
): Query {
  if (reply.length > MAX_REPLY_CHARS)
    throw new QueryError(
      "MODEL_REPLY_INVALID",
      `the reply has ${reply.length} characters, more than a query needs`,
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(jsonOfReply(reply));
  } catch {
    throw new QueryError("MODEL_REPLY_INVALID", "the reply is not JSON");
  }
  if (depthExceeds(parsed, MAX_REPLY_DEPTH))
    throw new QueryError("MODEL_REPLY_INVALID", `the reply nests deeper than ${MAX_REPLY_DEPTH} levels`);
  const checked = query.safeParse(parsed);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new QueryError(
      "MODEL_REPLY_INVALID",
      `the reply is not a valid query: ${issue?.message ?? "wrong shape"} at ${issue?.path.join(".") || "the top"}`,
    );
  }
  const result = checked.data as Query;
  assertQueryBounded(result);
  for (const column of ["cluster", "namespace"] as const) {
    const known = column === "cluster" ? visible.clusters : visible.namespaces;
    if (!known) continue;
    const unseen = [...columnValues(result.where, column, new Set())].filter((v) => !known.includes(v));
    if (unseen.length)
      throw new QueryError(
        "MODEL_REPLY_INVALID",
        `the reply names a ${column} you cannot see: ${unseen.join(", ")}`,
      );
  }
  return result;
}
