/**
 * Every stream, subject and bucket name derives from one prefix, so tests and tenants can share
 * a NATS server without colliding (JetStream refuses streams with overlapping subjects).
 */
export interface BusNames {
  readonly prefix: string;
  readonly streams: {
    readonly resources: string;
    readonly placement: string;
    readonly work: string;
    readonly workStatus: string;
    readonly deadLetter: string;
  };
  readonly clustersBucket: string;
  /** The indexers' buckets: which indexer reads each cluster, and which indexers are alive. */
  readonly leasesBucket: string;
  readonly membersBucket: string;
  /** The bucket whose one key names the process that leads a role (see Leadership). */
  leaderBucket(role: string): string;
  /** The stream JetStream keeps a KV bucket in. */
  bucketStream(bucket: string): string;
  /** The subject a bucket's key is stored under; ">" for every key. */
  bucketSubject(bucket: string, key: string): string;
  resources(cluster: string): string;
  heartbeat(cluster: string): string;
  placement(): string;
  work(cluster: string): string;
  workStatus(cluster: string): string;
  proxy(cluster: string): string;
  /** Where an agent streams one gateway reply; only that cluster's agent may publish here. */
  proxyReply(cluster: string, requestId: string): string;
  /** Every reply subject of one cluster, as a permission wildcard. */
  proxyReplies(cluster: string): string;
  /** Credit and cancel messages for a cluster's running gateway replies. */
  proxyControl(cluster: string): string;
  deadLetter(source: string): string;
  /** Core-NATS subject the indexers announce committed changes on, so watches wake at once. */
  indexed(): string;
  /** Request subject an agent asks for its sync rules on (the hub answers from the registry). */
  syncRules(cluster: string): string;
  /** Durable consumer on the WORK stream that only this cluster's agent may pull from. */
  workConsumer(cluster: string): string;
  /** Inbox prefix of a cluster's connection, so no other identity can read its replies. */
  inboxPrefix(cluster: string): string;
  /** Subject root with a trailing wildcard for one kind, e.g. "atoll.v1.res.*". */
  all(kind: "res" | "work" | "wstat" | "dlq" | "hb" | "proxy" | "rules"): string;
}

const CLUSTER_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Cluster names become subject tokens, so they must be DNS labels: no dots, spaces or wildcards. */
export function assertClusterName(cluster: string): string {
  if (!CLUSTER_NAME.test(cluster)) {
    throw new Error(
      `invalid cluster name "${cluster}": use a DNS label (lower-case letters, digits and '-', at most 63 characters)`,
    );
  }
  return cluster;
}

export function busNames(prefix = ""): BusNames {
  if (prefix !== "" && !/^[A-Za-z0-9_-]+$/.test(prefix)) {
    throw new Error(`invalid bus prefix "${prefix}": use letters, digits, '_' or '-'`);
  }
  const root = prefix ? `${prefix}.atoll.v1` : "atoll.v1";
  const stream = (name: string) => (prefix ? `${prefix}_${name}` : name);
  const perCluster = (kind: string) => (cluster: string) => `${root}.${kind}.${assertClusterName(cluster)}`;
  return {
    prefix,
    streams: {
      resources: stream("RESOURCES"),
      placement: stream("PLACEMENT"),
      work: stream("WORK"),
      workStatus: stream("WORKSTATUS"),
      deadLetter: stream("DEADLETTER"),
    },
    clustersBucket: stream("clusters"),
    leasesBucket: stream("indexer_leases"),
    membersBucket: stream("indexer_members"),
    leaderBucket: (role) => {
      if (!/^[a-z]+$/.test(role)) throw new Error(`invalid leader role "${role}"`);
      return stream(`leader_${role}`);
    },
    bucketStream: (bucket) => `KV_${bucket}`,
    bucketSubject: (bucket, key) => `$KV.${bucket}.${key}`,
    resources: perCluster("res"),
    heartbeat: perCluster("hb"),
    work: perCluster("work"),
    workStatus: perCluster("wstat"),
    proxy: perCluster("proxy"),
    proxyReply: (cluster, requestId) => {
      if (!/^[A-Za-z0-9_-]+$/.test(requestId)) throw new Error(`invalid proxy request id "${requestId}"`);
      return `${perCluster("proxyreply")(cluster)}.${requestId}`;
    },
    proxyReplies: (cluster) => `${perCluster("proxyreply")(cluster)}.>`,
    proxyControl: perCluster("proxyctl"),
    syncRules: perCluster("rules"),
    workConsumer: (cluster) => `work-${assertClusterName(cluster)}`,
    inboxPrefix: (cluster) => `_INBOX_${prefix ? `${prefix}_` : ""}${assertClusterName(cluster)}`,
    placement: () => `${root}.placement`,
    indexed: () => `${root}.indexed`,
    deadLetter: (source) => `${root}.dlq.${source}`,
    all: (kind) => `${root}.${kind}.*`,
  };
}

/** The cluster token of a subject such as "atoll.v1.res.prod-1": always its last token. */
export function clusterOfSubject(subject: string): string {
  return subject.slice(subject.lastIndexOf(".") + 1);
}
