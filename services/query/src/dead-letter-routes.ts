import { visibleClusters } from "@atoll/access";
import type { Bus, DeadLetter } from "@atoll/bus";
import {
  type Codec,
  type DescMessage,
  placementCodec,
  resourceBatchCodec,
  toJson,
  workCodec,
  workStatusCodec,
} from "@atoll/contracts";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { forbidden } from "./auth.js";
import { badRequest, HttpProblem } from "./problem.js";

/** The most dead letters one page lists. */
const MAX_PAGE = 500;

/** How each per-cluster subject's messages are read, by the kind token before the cluster's. */
const CLUSTER_CODECS: Record<string, Codec<DescMessage>> = {
  res: resourceBatchCodec as Codec<DescMessage>,
  work: workCodec as Codec<DescMessage>,
  wstat: workStatusCodec as Codec<DescMessage>,
};

/**
 * Dead letters hold messages of any cluster and any consumer, so only an admin of every cluster
 * may look at them or replay them: the same grant that registers and removes clusters.
 */
function demandFleetAdmin(request: FastifyRequest): void {
  if (visibleClusters(request.principal, "admin") !== "all")
    throw forbidden(
      `${request.principal.name} (role ${request.principal.role}) may not read dead letters, which hold messages of every cluster; it takes admin on every cluster`,
    );
}

const summary = ({ data, ...letter }: DeadLetter) => ({ ...letter, bytes: data.length });

/** The message a dead letter carries, decoded where it still decodes. */
function decoded(letter: DeadLetter): unknown {
  const tokens = letter.subject.split(".");
  const codec =
    tokens.at(-2) === "v1" && tokens.at(-1) === "placement"
      ? (placementCodec as Codec<DescMessage>)
      : CLUSTER_CODECS[tokens.at(-2) ?? ""];
  if (!codec) return undefined;
  try {
    return toJson(codec.schema, codec.decode(letter.data));
  } catch {
    return undefined;
  }
}

function sequence(value: string, least = 1): number {
  const seq = Number(value);
  if (!Number.isSafeInteger(seq) || seq < least)
    throw badRequest(
      "INVALID_SEQUENCE",
      `"${value}" is not a dead letter's sequence; take one from the list`,
    );
  return seq;
}

const notFound = (seq: number) =>
  new HttpProblem(
    404,
    "DEAD_LETTER_NOT_FOUND",
    "Not found",
    `there is no dead letter ${seq}; it may have been replayed`,
  );

/** GET /api/v1/dead-letters, GET /api/v1/dead-letters/:seq, POST /api/v1/dead-letters/:seq/replay. */
export function deadLetterRoutes(app: FastifyInstance, bus: Bus): void {
  app.get("/api/v1/dead-letters", async (request) => {
    demandFleetAdmin(request);
    const query = request.query as { after?: string; limit?: string; consumer?: string };
    const limit = query.limit === undefined ? 100 : Number(query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE)
      throw badRequest("INVALID_LIMIT", `limit must be a whole number from 1 to ${MAX_PAGE}`);
    const { items, counts } = await bus.deadLetters({
      limit,
      ...(query.after ? { afterSeq: sequence(query.after, 0) } : {}),
      ...(query.consumer ? { consumer: query.consumer } : {}),
    });
    return { items: items.map(summary), counts };
  });

  app.get("/api/v1/dead-letters/:seq", async (request) => {
    demandFleetAdmin(request);
    const seq = sequence((request.params as { seq: string }).seq);
    const letter = await bus.deadLetterAt(seq);
    if (!letter) throw notFound(seq);
    return {
      ...summary(letter),
      message: decoded(letter),
      data: Buffer.from(letter.data).toString("base64"),
    };
  });

  app.post("/api/v1/dead-letters/:seq/replay", async (request) => {
    demandFleetAdmin(request);
    const seq = sequence((request.params as { seq: string }).seq);
    const letter = await bus.replayDeadLetter(seq);
    if (!letter) throw notFound(seq);
    request.log.info({ seq, subject: letter.subject, consumer: letter.consumer }, "replayed a dead letter");
    return { replayed: summary(letter) };
  });
}
