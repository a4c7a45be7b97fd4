import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AnswerEvent,
  answer,
  diagnoseTask,
  explainTask,
  interpretTask,
  promptPreview,
} from "./features.js";
import { imageRepository, Masker } from "./mask.js";
import { PromptsError, readPrompts } from "./prompts.js";

/** How the fake model behaves for one request, chosen by the model name the client sends. */
type Mode = "stream" | "slow" | "fail" | "cut" | "empty";

/**
 * A local server speaking the OpenAI chat completions protocol: it streams a reply that repeats
 * the placeholders it was sent, split across chunks, so unmasking is tested on real SSE.
 */
function fakeModel(): {
  server: Server;
  requests: { model: string; messages: { role: string; content: string }[] }[];
} {
  const requests: { model: string; messages: { role: string; content: string }[] }[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      const request = JSON.parse(body);
      requests.push(request);
      const mode = request.model as Mode;
      if (mode === "fail") {
        res.writeHead(500, { "content-type": "application/json" }).end('{"error":{"message":"overloaded"}}');
        return;
      }
      if (mode === "slow") return; // never answers
      res.writeHead(200, { "content-type": "text/event-stream" });
      const prompt = request.messages.at(-1).content as string;
      const tokens = [...new Set(prompt.match(/\b(?:NAME|NS|LABEL|IP|REPO)_\d+\b/g) ?? [])];
      const reply = `Pod ${tokens.join(" and ")} keeps crashing; restart it.`;
      const pieces = mode === "empty" ? [] : reply.match(/.{1,3}/gs)!;
      const send = (i: number) => {
        if (mode === "cut" && i === 4) {
          res.destroy();
          return;
        }
        if (i === pieces.length) {
          res.end("data: [DONE]\n\n");
          return;
        }
        res.write(`data: ${JSON.stringify({ choices: [{ delta: { content: pieces[i] } }] })}\n\n`);
        setTimeout(() => send(i + 1), 2);
      };
      send(0);
    });
  });
  return { server, requests };
}

async function collect(events: AsyncIterable<AnswerEvent>) {
  let text = "";
  let done: Extract<AnswerEvent, { type: "done" }> | undefined;
  for await (const event of events) {
    if (event.type === "text") text += event.text;
    else done = event;
  }
  return { text, done: done! };
}

const pod = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "checkout-7d9f-x2k", namespace: "payments-prod", labels: { team: "money-movers" } },
  spec: {
    nodeName: "ip-10-1-2-3.internal",
    containers: [{ name: "app", image: "registry.acme.io/pay/checkout:2.4.1" }],
  },
  status: {
    phase: "Running",
    podIP: "10.42.7.19",
    containerStatuses: [
      { name: "app", ready: false, restartCount: 9, state: { waiting: { reason: "CrashLoopBackOff" } } },
    ],
  },
};
const event = {
  kind: "Event",
  metadata: { name: "checkout-7d9f-x2k.1", namespace: "payments-prod" },
  involvedObject: { kind: "Pod", name: "checkout-7d9f-x2k", namespace: "payments-prod" },
  type: "Warning",
  reason: "BackOff",
  message: "Back-off restarting failed container app in pod checkout-7d9f-x2k_payments-prod(10.42.7.19)",
  count: 12,
};
const SECRETS = [
  "checkout-7d9f-x2k",
  "payments-prod",
  "money-movers",
  "10.42.7.19",
  "registry.acme.io/pay/checkout",
];

describe("AI answers", () => {
  const fake = fakeModel();
  let baseUrl = "";
  beforeAll(async () => {
    await new Promise<void>((resolve) => fake.server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}/v1`;
  });
  afterAll(() => {
    fake.server.closeAllConnections();
    fake.server.close();
  });
  const model = (mode: Mode, timeoutMs = 2000) => ({ baseUrl, model: mode, timeoutMs });

  it("masks names, namespaces, labels, IPs and image repositories, event messages included, and unmasks the streamed answer", async () => {
    const { text, done } = await collect(answer(diagnoseTask(pod, [event], []), { model: model("stream") }));
    const sent = JSON.stringify(fake.requests.at(-1));
    for (const secret of SECRETS) expect(sent).not.toContain(secret);
    expect(sent).toMatch(/NAME_\d+/);
    expect(sent).toMatch(/IP_\d+/);
    expect(done).toMatchObject({ source: "model" });
    expect(done.masked?.REPO).toBe(1);
    // The fake repeats every placeholder it got, split three characters at a time.
    for (const secret of ["checkout-7d9f-x2k", "payments-prod", "10.42.7.19"]) expect(text).toContain(secret);
    expect(text).not.toMatch(/\b(?:NAME|NS|LABEL|IP|REPO)_\d+\b/);
  });

  it("uses the operator's prompts, keeping the placeholder rule, the language and the masking", async () => {
    const prompts = {
      system: "You are terse. Answer in at most three bullet points.",
      diagnose: "Say only which container of payments-prod fails, and the one command to confirm it.",
    };
    await collect(
      answer(diagnoseTask(pod, [event], []), { model: model("stream"), language: "zh", prompts }),
    );
    const [system, user] = fake.requests.at(-1)!.messages;
    expect(system!.content.split("\n")).toEqual([
      prompts.system,
      expect.stringContaining("keep them exactly as written"),
      "请用简体中文回答。",
    ]);
    // The feature's instruction is replaced, the material stays, and the operator's words are masked too.
    expect(user!.content).toMatch(
      /^Say only which container of NS_\d+ fails, and the one command to confirm it\.\n\nWorkload:/,
    );
    expect(user!.content).not.toContain("Diagnose this Kubernetes workload");
    for (const secret of SECRETS) expect(JSON.stringify(fake.requests.at(-1))).not.toContain(secret);
    // A feature without its own prompt keeps the built-in instruction.
    const preview = promptPreview(
      explainTask([{ rule: "CrashLoopBackOff", severity: "critical", message: "x" }]),
      "en",
      prompts,
    );
    expect(preview.messages[1]!.content).toMatch(/^Explain these findings/);
    expect(preview.messages[0]!.content).toMatch(/^You are terse\./);
  });

  it("reads the operator's prompts from YAML, and says what is wrong with a bad file", () => {
    const dir = mkdtempSync(join(tmpdir(), "atoll-prompts-"));
    try {
      const file = (text: string) => {
        const path = join(dir, `${Math.random().toString(36).slice(2)}.yaml`);
        writeFileSync(path, text);
        return path;
      };
      expect(readPrompts(file("system: Be brief.\nexplain: List causes first.\n"))).toEqual({
        system: "Be brief.",
        explain: "List causes first.",
      });
      expect(() => readPrompts(file("sytem: typo\n"))).toThrow(
        /unknown key "sytem"; the keys are system, explain, interpret, diagnose/,
      );
      expect(() => readPrompts(file("diagnose: 3\n"))).toThrow(/diagnose must be non-empty text/);
      expect(() => readPrompts(file("- a\n"))).toThrow(PromptsError);
      expect(() => readPrompts(join(dir, "missing.yaml"))).toThrow(/missing\.yaml/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("answers in the requested language", async () => {
    await collect(
      answer(explainTask([{ rule: "CrashLoopBackOff", severity: "critical", message: "x" }]), {
        model: model("stream"),
        language: "zh",
      }),
    );
    expect(fake.requests.at(-1)!.messages[0]!.content).toContain("请用简体中文回答");
    const offline = await collect(answer(interpretTask(pod), { language: "zh" }));
    expect(offline.text).toMatch(/^内置解释/);
  });

  it.each([
    ["no model is configured", undefined, /no language model is configured/],
    ["the model answers HTTP 500", "fail" as Mode, /HTTP 500/],
    ["the model is too slow", "slow" as Mode, /did not answer within 300 ms/],
    ["the model sends nothing", "empty" as Mode, /returned no text/],
  ])("falls back to the rules' own explanation when %s", async (_, mode, warning) => {
    const task = explainTask([
      {
        rule: "runAsRootAllowed",
        severity: "high",
        message: "may run as root",
        kind: "Pod",
        namespace: "a",
        name: "b",
      },
      {
        // The rule name the diagnosis gives a crash loop; the fix text was once keyed by another.
        rule: "ContainerCrashLooping",
        severity: "high",
        message: "restarting",
        kind: "Pod",
        namespace: "a",
        name: "b",
      },
      { rule: "noLimits", severity: "medium", message: "no limits", kind: "Pod", namespace: "a", name: "b" },
    ]);
    const { text, done } = await collect(answer(task, mode ? { model: model(mode, 300) } : {}));
    expect(done.source).toBe("rules");
    expect(done.warning).toMatch(warning);
    expect(text).toMatch(/^Built-in explanation/);
    expect(text).toContain("Why: The container keeps exiting");
    expect(text).toContain("kubectl logs --previous");
    // Worst first: the two high findings, then the medium one.
    const order = [...text.matchAll(/^- (\w+) \[(\w+)\]/gm)].map((m) => m[2]);
    expect(order).toEqual(["high", "high", "medium"]);
  });

  it("interprets a manifest that never ran by its settings, not by a runtime state it does not have", async () => {
    const manifest = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "api", namespace: "shop" },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: "api" } },
        template: {
          metadata: { labels: { app: "api" } },
          spec: { containers: [{ name: "api", image: "api:1" }] },
        },
      },
    };
    const { text } = await collect(answer(interpretTask(manifest), {}));
    expect(text).not.toMatch(/DeploymentNotReady|ready/i);
    expect(text).toMatch(/What the rules found:/);
    // The same object with a status that says so is judged at run time too.
    const running = { ...manifest, status: { replicas: 3, readyReplicas: 1 } };
    expect((await collect(answer(interpretTask(running), {}))).text).toMatch(/DeploymentNotReady/);
  });

  it("keeps a partial answer and adds the rules' when the stream breaks", async () => {
    const { text, done } = await collect(answer(interpretTask(pod), { model: model("cut") }));
    expect(done.source).toBe("model+rules");
    expect(text).toContain("Built-in explanation");
    expect(text.indexOf("Pod")).toBe(0);
  });
});

describe("the masker", () => {
  it("replaces whole names only, longest first, and puts them back", () => {
    const masker = new Masker()
      .learn({ metadata: { name: "web", namespace: "shop" } })
      .learnName("NAME", "web-1-a");
    const masked = masker.mask("web-1-a of web in shop; website and shopping stay; web.");
    expect(masked).toBe("NAME_2 of NAME_1 in NS_1; website and shopping stay; NAME_1.");
    expect(masker.unmask(masked)).toBe("web-1-a of web in shop; website and shopping stay; web.");
  });

  it("leaves names every cluster has alone, so serviceAccountName: default stays what it is", () => {
    const masker = new Masker().learn({ metadata: { name: "api", namespace: "default" } });
    expect(masker.mask("pod api in namespace default runs as serviceAccountName: default")).toBe(
      "pod NAME_1 in namespace default runs as serviceAccountName: default",
    );
    expect(
      new Masker()
        .learn({ metadata: { name: "coredns", namespace: "kube-system" } })
        .mask("kube-system/coredns"),
    ).toBe("kube-system/NAME_1");
  });

  it("masks addresses it has not been told about", () => {
    const masker = new Masker();
    expect(masker.mask("dial tcp 192.168.3.14:5432: refused; fe80::1:2:3 down")).toBe(
      "dial tcp IP_1:5432: refused; IP_2 down",
    );
  });

  it.each([
    ["nginx:1.25", "nginx"],
    ["registry.acme.io:5000/team/app:v2", "registry.acme.io:5000/team/app"],
    ["ghcr.io/x/y@sha256:abc", "ghcr.io/x/y"],
  ])("takes the repository of %s", (image, repository) => {
    expect(imageRepository(image)).toBe(repository);
  });
});
