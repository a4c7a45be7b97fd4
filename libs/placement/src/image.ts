import type { JsonPatchOperation } from "@atoll/kube";

/** An image reference as Karmada's image overrider sees it: no docker.io/library normalisation. */
export interface ImageComponents {
  hostname: string;
  repository: string;
  tag: string;
  digest: string;
}

const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;

/** The hostname is the first path segment if it has a dot or a colon, or is localhost. */
export function splitHostname(name: string): { hostname: string; repository: string } {
  const slash = name.indexOf("/");
  if (slash < 0) return { hostname: "", repository: name };
  const first = name.slice(0, slash);
  if (!/[.:]/.test(first) && first !== "localhost") return { hostname: "", repository: name };
  return { hostname: first, repository: name.slice(slash + 1) };
}

export function parseImage(image: string): ImageComponents {
  let rest = image;
  let digest = "";
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag = "";
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const { hostname, repository } = splitHostname(rest);
  // Tag and digest are exclusive here; with both, the tag is kept.
  return { hostname, repository, tag, digest: tag ? "" : digest };
}

export function imageString(c: ImageComponents): string {
  const name = c.hostname ? `${c.hostname}/${c.repository}` : c.repository;
  return c.tag ? `${name}:${c.tag}` : c.digest ? `${name}@${c.digest}` : name;
}

/** Sets a tag or a digest, whichever the text is; anything else leaves the image as it was. */
export function setTagOrDigest(c: ImageComponents, text: string): ImageComponents {
  if (TAG.test(text)) return { ...c, tag: text, digest: "" };
  if (DIGEST.test(text)) return { ...c, tag: "", digest: text };
  return c;
}

export function removeTagOrDigest(c: ImageComponents): ImageComponents {
  return c.tag ? { ...c, tag: "" } : { ...c, digest: "" };
}

export interface ImageOverrider {
  predicate?: { path: string } | null;
  component: "Registry" | "Repository" | "Tag";
  operator: "add" | "remove" | "replace";
  value?: string;
}

/** One overrider applied to one image string. */
export function overrideImage(image: string, o: ImageOverrider): string {
  let c = parseImage(image);
  const value = o.value ?? "";
  switch (o.component) {
    case "Registry":
      c = {
        ...c,
        hostname: o.operator === "add" ? c.hostname + value : o.operator === "replace" ? value : "",
      };
      break;
    case "Repository":
      c = {
        ...c,
        repository: o.operator === "add" ? c.repository + value : o.operator === "replace" ? value : "",
      };
      break;
    case "Tag":
      c =
        o.operator === "remove"
          ? removeTagOrDigest(c)
          : setTagOrDigest(c, o.operator === "add" ? (c.tag || c.digest) + value : value);
      break;
  }
  return imageString(c);
}

const POD_TEMPLATE_KINDS = new Set(["ReplicaSet", "Deployment", "DaemonSet", "StatefulSet", "Job"]);

/** Where a kind keeps its containers, for overriders without a predicate; undefined for other kinds. */
export function containersPath(kind: string): string | undefined {
  if (kind === "Pod") return "/spec/containers";
  return POD_TEMPLATE_KINDS.has(kind) ? "/spec/template/spec/containers" : undefined;
}

function pointerGet(object: unknown, pointer: string): unknown {
  let current = object;
  for (const raw of pointer.split("/").slice(1)) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** The JSON patches an image overrider makes on a manifest: every container, or the predicate's path. */
export function imageOverridePatches(
  manifest: { kind: string },
  overrider: ImageOverrider,
): JsonPatchOperation[] {
  if (overrider.predicate?.path) {
    const image = pointerGet(manifest, overrider.predicate.path);
    if (typeof image !== "string") return [];
    return [{ op: "replace", path: overrider.predicate.path, value: overrideImage(image, overrider) }];
  }
  const path = containersPath(manifest.kind);
  if (!path) return [];
  const containers = pointerGet(manifest, path);
  if (!Array.isArray(containers)) return [];
  return containers.flatMap((container: { image?: unknown }, i) =>
    typeof container.image === "string"
      ? [
          {
            op: "replace" as const,
            path: `${path}/${i}/image`,
            value: overrideImage(container.image, overrider),
          },
        ]
      : [],
  );
}
