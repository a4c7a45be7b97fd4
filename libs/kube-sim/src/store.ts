import { randomUUID } from "node:crypto";
import { apiVersionOf, BUILTIN_RESOURCE_TYPES, type ResourceType } from "@atoll/kube";

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects are schemaless JSON here
export type Obj = Record<string, any>;

export type SimEventType = "ADDED" | "MODIFIED" | "DELETED";

export interface SimEvent {
  type: SimEventType;
  rv: number;
  typeKey: string;
  object: Obj;
}

/** An API error the server renders as a Kubernetes Status object. */
export class SimError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export const typeKeyOf = (type: Pick<ResourceType, "group" | "resource">) => `${type.group}/${type.resource}`;
const objectKey = (namespace: string | undefined, name: string) => `${namespace ?? ""}/${name}`;

interface TypeBucket {
  type: ResourceType;
  objects: Map<string, Obj>;
  /** Sorted keys, rebuilt lazily after creates and deletes, for paginated lists. */
  sorted: string[] | undefined;
  /** Keys in no order with their positions, for O(1) random picks under churn. */
  keys: string[];
  positions: Map<string, number>;
}

export interface StoreOptions {
  /** How many recent events a watch can resume from; older versions get 410 Gone. */
  eventWindow?: number;
}

/**
 * The sim's state: objects by type, a global monotonically increasing resourceVersion, and a
 * bounded event log that watches resume from.
 */
export class SimStore {
  private rv = 1000;
  private readonly buckets = new Map<string, TypeBucket>();
  private readonly log: SimEvent[] = [];
  private readonly eventWindow: number;
  /** Highest resourceVersion no longer in the log; resuming from below it is 410 Gone. */
  compactedRv = 1000;
  private readonly listeners = new Set<(event: SimEvent) => void>();
  private readonly dependents = new Map<string, Set<string>>();
  private readonly locations = new Map<string, { typeKey: string; key: string }>();

  constructor(options: StoreOptions = {}) {
    this.eventWindow = options.eventWindow ?? 50_000;
    for (const type of BUILTIN_RESOURCE_TYPES) this.registerType(type);
  }

  get resourceVersion(): number {
    return this.rv;
  }

  registerType(type: ResourceType): void {
    const key = typeKeyOf(type);
    const existing = this.buckets.get(key);
    if (existing) existing.type = type;
    else
      this.buckets.set(key, { type, objects: new Map(), sorted: undefined, keys: [], positions: new Map() });
  }

  types(): ResourceType[] {
    return [...this.buckets.values()].map((b) => b.type);
  }

  findType(group: string, version: string, resource: string): ResourceType | undefined {
    const type = this.buckets.get(`${group}/${resource}`)?.type;
    return type && type.version === version ? type : undefined;
  }

  typeForObject(object: Obj): ResourceType {
    for (const bucket of this.buckets.values()) {
      if (bucket.type.kind === object.kind && apiVersionOf(bucket.type) === object.apiVersion)
        return bucket.type;
    }
    throw new SimError(400, "BadRequest", `no resource type serves ${object.apiVersion} ${object.kind}`);
  }

  subscribe(listener: (event: SimEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Events after rv still held in the window, or 410 if some were already dropped. */
  eventsSince(rv: number): SimEvent[] {
    if (rv < this.compactedRv) {
      throw new SimError(410, "Expired", `too old resource version: ${rv} (${this.compactedRv})`);
    }
    let lo = 0;
    let hi = this.log.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.log[mid]!.rv <= rv) lo = mid + 1;
      else hi = mid;
    }
    return this.log.slice(lo);
  }

  private bucket(type: ResourceType): TypeBucket {
    const bucket = this.buckets.get(typeKeyOf(type));
    if (!bucket)
      throw new SimError(
        404,
        "NotFound",
        `the server could not find the requested resource ${type.resource}`,
      );
    return bucket;
  }

  get(type: ResourceType, namespace: string | undefined, name: string): Obj {
    const object = this.bucket(type).objects.get(objectKey(type.namespaced ? namespace : undefined, name));
    if (!object) throw new SimError(404, "NotFound", `${type.resource} "${name}" not found`);
    return object;
  }

  tryGet(type: ResourceType, namespace: string | undefined, name: string): Obj | undefined {
    return this.bucket(type).objects.get(objectKey(type.namespaced ? namespace : undefined, name));
  }

  count(type?: ResourceType): number {
    if (type) return this.bucket(type).objects.size;
    let total = 0;
    for (const bucket of this.buckets.values()) total += bucket.objects.size;
    return total;
  }

  /** Objects of a type in key order, optionally in one namespace, starting after a key; lazily. */
  *entries(
    type: ResourceType,
    namespace?: string,
    afterKey?: string,
  ): Generator<{ key: string; object: Obj }> {
    const bucket = this.bucket(type);
    bucket.sorted ??= [...bucket.objects.keys()].sort();
    const sorted = bucket.sorted;
    let start = 0;
    const from = afterKey ?? (namespace && type.namespaced ? `${namespace}/` : undefined);
    if (from !== undefined) {
      let lo = 0;
      let hi = sorted.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (afterKey !== undefined ? sorted[mid]! <= from : sorted[mid]! < from) lo = mid + 1;
        else hi = mid;
      }
      start = lo;
    }
    const prefix = namespace && type.namespaced ? `${namespace}/` : undefined;
    for (let i = start; i < sorted.length; i++) {
      const key = sorted[i]!;
      if (prefix && !key.startsWith(prefix)) break;
      const object = bucket.objects.get(key);
      if (object) yield { key, object };
    }
  }

  list(type: ResourceType, namespace?: string, afterKey?: string): { key: string; object: Obj }[] {
    return [...this.entries(type, namespace, afterKey)];
  }

  /** A uniformly random object of a type, or undefined when there is none. */
  sample(type: ResourceType, random: () => number): Obj | undefined {
    const bucket = this.bucket(type);
    const key = bucket.keys[Math.floor(random() * bucket.keys.length)];
    return key === undefined ? undefined : bucket.objects.get(key);
  }

  private track(bucket: TypeBucket, key: string): void {
    bucket.positions.set(key, bucket.keys.length);
    bucket.keys.push(key);
    bucket.sorted = undefined;
  }

  private untrack(bucket: TypeBucket, key: string): void {
    const position = bucket.positions.get(key)!;
    const last = bucket.keys.pop()!;
    if (last !== key) {
      bucket.keys[position] = last;
      bucket.positions.set(last, position);
    }
    bucket.positions.delete(key);
    bucket.sorted = undefined;
  }

  /** As an API server does: a CustomResourceDefinition makes its resource served. */
  private serveCustomResource(crd: Obj): void {
    const spec = crd.spec ?? {};
    const version = (spec.versions ?? []).find((v: Obj) => v.served && v.storage) ?? (spec.versions ?? [])[0];
    if (!spec.group || !spec.names?.plural || !spec.names?.kind || !version?.name) return;
    this.registerType({
      group: spec.group,
      version: version.name,
      resource: spec.names.plural,
      kind: spec.names.kind,
      namespaced: spec.scope !== "Cluster",
      shortNames: spec.names.shortNames ?? [],
      categories: spec.names.categories ?? [],
    });
  }

  private record(type: SimEventType, typeKey: string, object: Obj): void {
    if (object.kind === "CustomResourceDefinition" && type !== "DELETED") this.serveCustomResource(object);
    const event: SimEvent = { type, rv: this.rv, typeKey, object };
    this.log.push(event);
    if (this.log.length > this.eventWindow * 1.1) {
      const dropped = this.log.splice(0, this.log.length - this.eventWindow);
      this.compactedRv = dropped[dropped.length - 1]!.rv;
    }
    for (const listener of this.listeners) listener(event);
  }

  private nextVersion(): string {
    this.rv += 1;
    return String(this.rv);
  }

  private indexOwners(object: Obj, typeKey: string, key: string): void {
    const uid = object.metadata.uid as string;
    this.locations.set(uid, { typeKey, key });
    for (const owner of (object.metadata.ownerReferences ?? []) as Obj[]) {
      let set = this.dependents.get(owner.uid);
      if (!set) {
        set = new Set();
        this.dependents.set(owner.uid, set);
      }
      set.add(uid);
    }
  }

  private unindexOwners(object: Obj): void {
    this.locations.delete(object.metadata.uid);
    for (const owner of (object.metadata.ownerReferences ?? []) as Obj[])
      this.dependents.get(owner.uid)?.delete(object.metadata.uid);
  }

  create(type: ResourceType, input: Obj, namespace?: string): Obj {
    const bucket = this.bucket(type);
    const metadata: Obj = { ...(input.metadata ?? {}) };
    if (!metadata.name && metadata.generateName)
      metadata.name = `${metadata.generateName}${randomUUID().slice(0, 5)}`;
    if (!metadata.name)
      throw new SimError(
        422,
        "Invalid",
        `${type.kind}.metadata.name: Required value: name or generateName is required`,
      );
    if (type.namespaced) {
      metadata.namespace = metadata.namespace ?? namespace ?? "default";
      if (namespace && metadata.namespace !== namespace) {
        throw new SimError(
          400,
          "BadRequest",
          `the namespace of the object (${metadata.namespace}) does not match the namespace on the request (${namespace})`,
        );
      }
    } else delete metadata.namespace;
    const key = objectKey(metadata.namespace, metadata.name);
    if (bucket.objects.has(key))
      throw new SimError(409, "AlreadyExists", `${type.resource} "${metadata.name}" already exists`);
    const object: Obj = {
      ...input,
      apiVersion: apiVersionOf(type),
      kind: type.kind,
      metadata: {
        ...metadata,
        uid: randomUUID(),
        resourceVersion: this.nextVersion(),
        creationTimestamp: metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, "Z"),
        ...(input.spec !== undefined ? { generation: 1 } : {}),
      },
    };
    delete object.metadata.deletionTimestamp;
    bucket.objects.set(key, object);
    this.track(bucket, key);
    this.indexOwners(object, typeKeyOf(type), key);
    this.record("ADDED", typeKeyOf(type), object);
    return object;
  }

  /** Replaces an object; a resourceVersion in the input must match (optimistic concurrency). */
  update(type: ResourceType, input: Obj, namespace?: string, subresource?: string): Obj {
    const bucket = this.bucket(type);
    const current = this.get(type, namespace ?? input.metadata?.namespace, input.metadata?.name);
    const sent = input.metadata?.resourceVersion;
    if (sent && sent !== current.metadata.resourceVersion) {
      throw new SimError(
        409,
        "Conflict",
        `Operation cannot be fulfilled on ${type.resource} "${current.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    // The status subresource changes only status; the main resource never changes status.
    const merged: Obj =
      subresource === "status"
        ? { ...current, status: input.status }
        : {
            ...input,
            ...(current.status !== undefined && input.status === undefined ? { status: current.status } : {}),
          };
    const specChanged = JSON.stringify(merged.spec) !== JSON.stringify(current.spec);
    const object: Obj = {
      ...merged,
      apiVersion: current.apiVersion,
      kind: current.kind,
      metadata: {
        ...(subresource === "status" ? current.metadata : merged.metadata),
        uid: current.metadata.uid,
        name: current.metadata.name,
        ...(type.namespaced ? { namespace: current.metadata.namespace } : {}),
        creationTimestamp: current.metadata.creationTimestamp,
        resourceVersion: this.nextVersion(),
        ...(current.metadata.generation !== undefined
          ? { generation: current.metadata.generation + (specChanged ? 1 : 0) }
          : {}),
      },
    };
    const key = objectKey(object.metadata.namespace, object.metadata.name);
    this.unindexOwners(current);
    bucket.objects.set(key, object);
    this.indexOwners(object, typeKeyOf(type), key);
    this.record("MODIFIED", typeKeyOf(type), object);
    return object;
  }

  /** Deletes an object and, as the garbage collector would, everything it owns. */
  delete(type: ResourceType, namespace: string | undefined, name: string): Obj {
    const bucket = this.bucket(type);
    const current = this.get(type, namespace, name);
    const key = objectKey(current.metadata.namespace, current.metadata.name);
    bucket.objects.delete(key);
    this.untrack(bucket, key);
    this.unindexOwners(current);
    const object = { ...current, metadata: { ...current.metadata, resourceVersion: this.nextVersion() } };
    this.record("DELETED", typeKeyOf(type), object);
    for (const uid of [...(this.dependents.get(current.metadata.uid) ?? [])]) {
      const location = this.locations.get(uid);
      if (!location) continue;
      const dependentBucket = this.buckets.get(location.typeKey);
      const dependent = dependentBucket?.objects.get(location.key);
      if (dependentBucket && dependent)
        this.delete(dependentBucket.type, dependent.metadata.namespace, dependent.metadata.name);
    }
    this.dependents.delete(current.metadata.uid);
    if (type.kind === "Namespace") {
      for (const other of this.buckets.values()) {
        if (!other.type.namespaced) continue;
        for (const { object: inNamespace } of this.list(other.type, name)) {
          if (other.objects.has(objectKey(name, inNamespace.metadata.name)))
            this.delete(other.type, name, inNamespace.metadata.name);
        }
      }
    }
    return object;
  }
}
