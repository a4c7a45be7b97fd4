import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answerNaturalQuestion } from "./language-model.js";
import { toSqlText } from "./render.js";

/** A local OpenAI-compatible endpoint whose reply each test chooses. */
let reply: (body: { model: string; messages: { role: string; content: string }[] }) => {
  status: number;
  content?: string;
  delayMs?: number;
};
const requests: { authorization?: string; body: unknown }[] = [];
let server: Server;
let baseUrl: string;

const readBody = async (request: IncomingMessage) => {
  let text = "";
  for await (const chunk of request) text += chunk;
  return JSON.parse(text);
};

beforeAll(async () => {
  server = createServer(async (request, response) => {
    const body = await readBody(request);
    requests.push({ authorization: request.headers.authorization, body });
    const answer = reply(body);
    if (answer.delayMs) await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
    response.writeHead(answer.status, { "content-type": "application/json" });
    response.end(JSON.stringify({ choices: [{ message: { role: "assistant", content: answer.content } }] }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** A model that answers in time unless a test means it not to: a loaded machine is slow, not late. */
const model = (timeoutMs = 15_000) => ({ baseUrl, model: "test-model", apiKey: "k-123", timeoutMs });
/** How long the slow model's test waits for it; it replies well after. */
const IMPATIENT_MS = 300;
const question = "pods whose owner team is unhappy";

describe("language-model fallback", () => {
  it("asks the model only for what the rules leave unexplained, and takes its query as IR, not SQL", async () => {
    reply = () => ({
      status: 200,
      content: `\`\`\`json\n${JSON.stringify({
        where: {
          type: "and",
          of: [
            { type: "compare", field: { kind: "column", name: "kind" }, op: "=", value: "Pod" },
            { type: "label", requirement: { key: "team", operator: "=", values: ["sad"] } },
          ],
        },
      })}\n\`\`\``,
    });
    const before = requests.length;
    const understood = await answerNaturalQuestion("pods in payments", { model: model() });
    expect(understood.engine).toBe("rules");
    expect(requests.length).toBe(before);

    const answer = await answerNaturalQuestion(question, { model: model() });
    expect(answer.engine).toBe("model");
    expect(toSqlText(answer.query)).toBe(
      "SELECT * FROM resources WHERE kind = 'Pod' AND labels['team'] = 'sad'",
    );
    const sent = requests.at(-1)!;
    expect(sent.authorization).toBe("Bearer k-123");
    expect(sent.body).toMatchObject({
      model: "test-model",
      messages: [{ role: "system" }, { role: "user", content: question }],
    });
  });

  it.each([
    [
      "SQL text",
      () => ({ status: 200, content: "DELETE FROM resources" }),
      /query was rejected: the reply is not JSON/,
    ],
    [
      "JSON outside the IR's schema",
      () => ({
        status: 200,
        content: JSON.stringify({ where: { type: "sql", text: "DROP TABLE resources" } }),
      }),
      /query was rejected: the reply is not a valid query/,
    ],
    [
      "a path outside the object",
      () => ({
        status: 200,
        content: JSON.stringify({
          where: {
            type: "compare",
            field: { kind: "path", segments: ["pg_catalog", "x"] },
            op: "=",
            value: 1,
          },
        }),
      }),
      /query was rejected: the reply is not a valid query: paths start at metadata/,
    ],
    [
      "a reply nested past any query",
      () => ({
        status: 200,
        content: JSON.stringify({
          where: Array.from({ length: 200 }).reduce<object>((of) => ({ type: "not", of }), {
            type: "status",
            value: "x",
          }),
        }),
      }),
      /nests deeper than/,
    ],
    ["an HTTP error", () => ({ status: 503, content: "" }), /HTTP 503/],
    ["an empty reply", () => ({ status: 200, content: "" }), /no text/],
    [
      "a slow reply",
      () => ({ status: 200, content: "SELECT * FROM resources", delayMs: 5_000 }),
      /within 300 ms/,
    ],
  ])("falls back to the rules on %s", async (failure, behaviour, warning) => {
    reply = behaviour;
    const slow = failure === "a slow reply";
    const answer = await answerNaturalQuestion(question, { model: model(slow ? IMPATIENT_MS : undefined) });
    expect(answer.engine).toBe("rules");
    expect(answer.warning).toMatch(warning);
    expect(toSqlText(answer.query)).toBe(
      "SELECT * FROM resources WHERE kind = 'Pod' AND search('owner team unhappy')",
    );
  });

  it("looks the leftover words up in the index and searches only for those the fleet holds", async () => {
    const asked: string[] = [];
    const answer = await answerNaturalQuestion("pods mentioning checkout in payments", {
      indexHolds: async (word) => {
        asked.push(word);
        return word === "checkout";
      },
    });
    expect(asked).toEqual(["mentioning", "checkout"]);
    expect(answer).toMatchObject({ engine: "rules", searched: ["checkout"], ignored: ["mentioning"] });
    expect(toSqlText(answer.query)).toBe(
      "SELECT * FROM resources WHERE namespace = 'payments' AND kind = 'Pod' AND search('checkout')",
    );
    // A question made of words nobody knows costs a bounded number of lookups.
    asked.length = 0;
    await answerNaturalQuestion(Array.from({ length: 40 }, (_, i) => `zzword${i}`).join(" "), {
      indexHolds: async (word) => {
        asked.push(word);
        return false;
      },
    });
    expect(asked.length).toBeLessThanOrEqual(8);
  });

  it("refuses a model's query that names a cluster the asker cannot see", async () => {
    reply = () => ({
      status: 200,
      content: JSON.stringify({
        where: {
          type: "compare",
          field: { kind: "column", name: "cluster" },
          op: "=",
          value: "secret-cluster",
        },
      }),
    });
    const answer = await answerNaturalQuestion(question, { model: model(), context: { clusters: ["eu"] } });
    expect(answer.engine).toBe("rules");
    expect(answer.warning).toMatch(/names a cluster you cannot see: secret-cluster/);
    const allowed = await answerNaturalQuestion(question, {
      model: model(),
      context: { clusters: ["secret-cluster"] },
    });
    expect(allowed.engine).toBe("model");
  });

  it("falls back when the endpoint cannot be reached at all", async () => {
    const answer = await answerNaturalQuestion(question, {
      model: { baseUrl: "http://127.0.0.1:9/v1", model: "m", timeoutMs: 300 },
    });
    expect(answer.engine).toBe("rules");
    expect(answer.warning).toMatch(/language model could not translate/);
  });
});
