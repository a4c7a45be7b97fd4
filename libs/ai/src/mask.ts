import type { Obj } from "@atoll/insight";

type Category = "NAME" | "NS" | "LABEL" | "IP" | "REPO";

const IPV4 = /\b(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}\b/g;
const IPV6_CANDIDATE = /(?<![0-9a-f:])(?:[0-9a-f]{1,4})?(?:::?[0-9a-f]{1,4}){2,7}(?![0-9a-f:])/gi;
const TOKEN = /\b(NAME|NS|LABEL|IP|REPO)_(\d+)\b/g;
/**
 * Characters that continue a Kubernetes name, so a value inside a longer name is left alone. An
 * underscore is not one: kubelet writes pod_namespace in its messages.
 */
const NAME_CHAR = "[A-Za-z0-9.-]";

/** IP addresses in a text. An IPv6 address needs :: or all eight groups, so times like 10:05:00 are not taken for one. */
function addresses(text: string): string[] {
  return [
    ...(text.match(IPV4) ?? []),
    ...(text.match(IPV6_CANDIDATE) ?? []).filter((m) => m.includes("::") || m.split(":").length === 8),
  ];
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The repository part of an image reference: registry and path, without tag or digest. */
export function imageRepository(image: string): string {
  const withoutDigest = image.split("@")[0]!;
  const lastSlash = withoutDigest.lastIndexOf("/");
  const colon = withoutDigest.indexOf(":", lastSlash + 1);
  return colon >= 0 ? withoutDigest.slice(0, colon) : withoutDigest;
}

/**
 * Replaces what identifies a user's systems (object names, namespaces, label values, IP addresses
 * and image repositories) with stable placeholders such as NAME_1 before text leaves for a model,
 * and puts the real values back into the answer. Values are learnt from the objects in the prompt
 * and then replaced wherever they occur, event messages and YAML included.
 */
const EVERY_CLUSTERS_NAMES = new Set(["default", "kube-system", "kube-public", "kube-node-lease"]);

export class Masker {
  private readonly byValue = new Map<string, string>();
  private readonly byToken = new Map<string, string>();
  private readonly counters: Record<Category, number> = { NAME: 0, NS: 0, LABEL: 0, IP: 0, REPO: 0 };
  private pattern: RegExp | undefined;

  private remember(category: Category, value: unknown): void {
    if (typeof value !== "string" || value.length < 2 || this.byValue.has(value)) return;
    // Names every cluster has identify no one's systems, and masking them would rename unrelated
    // fields that say the same word (serviceAccountName: default).
    if (EVERY_CLUSTERS_NAMES.has(value)) return;
    const token = `${category}_${++this.counters[category]}`;
    this.byValue.set(value, token);
    this.byToken.set(token, value);
    this.pattern = undefined;
  }

  /** Learns the sensitive values of an object: its names, namespace, labels, images and IPs. */
  learn(object: Obj | undefined): this {
    if (!object || typeof object !== "object") return this;
    const meta = object.metadata ?? {};
    this.remember("NAME", meta.name);
    this.remember("NS", meta.namespace);
    for (const value of Object.values(meta.labels ?? {})) this.remember("LABEL", value);
    for (const owner of meta.ownerReferences ?? []) this.remember("NAME", owner?.name);
    for (const about of [object.involvedObject, object.regarding]) {
      this.remember("NAME", about?.name);
      this.remember("NS", about?.namespace);
    }
    this.remember("NAME", object.spec?.nodeName);
    const walk = (value: unknown, key: string): void => {
      if (typeof value === "string") {
        if (key === "image") this.remember("REPO", imageRepository(value));
        for (const ip of addresses(value)) this.remember("IP", ip);
      } else if (Array.isArray(value)) for (const item of value) walk(item, key);
      else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) walk(v, k);
    };
    walk(object, "");
    return this;
  }

  learnName(category: "NAME" | "NS", value: string | undefined): this {
    this.remember(category, value);
    return this;
  }

  /** The text with every learnt value, and any IP address, replaced by its placeholder. */
  mask(text: string): string {
    for (const ip of addresses(text)) this.remember("IP", ip);
    if (this.byValue.size === 0) return text;
    // Longest first, so web-1-a is replaced whole before web could match inside it.
    this.pattern ??= new RegExp(
      `(?<!${NAME_CHAR})(${[...this.byValue.keys()]
        .sort((a, b) => b.length - a.length)
        .map(escapeRegExp)
        .join("|")})(?![A-Za-z0-9-]|\\.[A-Za-z0-9])`,
      "g",
    );
    return text.replace(this.pattern, (value) => this.byValue.get(value) ?? value);
  }

  /** The model's text with the real values back in place of the placeholders. */
  unmask(text: string): string {
    return text.replace(TOKEN, (token) => this.byToken.get(token) ?? token);
  }

  /**
   * Unmasks a stream of chunks, holding back a tail that could be the start of a placeholder
   * split across chunks (NAME_ in one, 12 in the next).
   */
  async *unmaskStream(chunks: AsyncIterable<string>): AsyncGenerator<string> {
    let held = "";
    for await (const chunk of chunks) {
      held += chunk;
      const partial = /(?:NAME|NS|LABEL|IP|REPO|N|NA|NAM|I|L|LA|LAB|LABE|R|RE|REP)?_?\d*$/.exec(held);
      const cut = partial && partial[0].length > 0 ? partial.index : held.length;
      if (cut > 0) {
        yield this.unmask(held.slice(0, cut));
        held = held.slice(cut);
      }
    }
    if (held) yield this.unmask(held);
  }

  /** Each placeholder and the value it stands for. */
  placeholders(): Record<string, string> {
    return Object.fromEntries(this.byToken);
  }

  /** How many values of each kind are masked, for the response's record of what was hidden. */
  summary(): Record<Category, number> {
    return { ...this.counters };
  }
}
