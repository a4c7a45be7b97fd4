import { assertClusterName, type BusNames, busNames } from "./names.js";

export interface Permissions {
  publish: string[];
  subscribe: string[];
}

/**
 * What one cluster's agent may do on the bus: publish its own events, status and heartbeat, ask
 * for its own sync rules, pull and ack its own work consumer, answer proxy requests for its own
 * cluster and stream their replies, and read replies on its own inbox prefix. Nothing names
 * another cluster.
 */
export function agentPermissions(names: BusNames, cluster: string): Permissions {
  const c = assertClusterName(cluster);
  const work = `${names.streams.work}.${names.workConsumer(c)}`;
  return {
    publish: [
      names.resources(c),
      names.workStatus(c),
      names.syncRules(c),
      names.bucketSubject(names.clustersBucket, c),
      `$JS.API.CONSUMER.INFO.${work}`,
      `$JS.API.CONSUMER.MSG.NEXT.${work}`,
      `$JS.ACK.${work}.>`,
      names.proxyReplies(c),
    ],
    subscribe: [`${names.inboxPrefix(c)}.>`, names.proxy(c), names.proxyControl(c)],
  };
}

export interface NatsIdentity {
  /** Public nkey (starts with U); the seed never leaves whoever holds it. */
  nkey: string;
  /** Comment written beside the user in the config. */
  description: string;
  permissions?: Permissions;
}

const quote = (s: string) => JSON.stringify(s);

/**
 * The identities a server needs for a registry: the hub's (unrestricted) and one per registered
 * pull cluster, limited to that cluster's subjects. Push clusters are synced by the hub itself.
 */
export function natsIdentities(
  hubNkey: string,
  clusters: { name: string; syncMode?: string; nkey?: string | null; registered?: boolean }[],
  busPrefix: string,
): NatsIdentity[] {
  const names = busNames(busPrefix);
  return [
    { nkey: hubNkey, description: "hub services" },
    ...clusters
      .filter((c) => c.registered !== false && c.syncMode === "pull" && c.nkey)
      .map((c) => ({
        nkey: c.nkey!,
        description: `cluster ${c.name}`,
        permissions: agentPermissions(names, c.name),
      })),
  ];
}

/** JetStream storage the Atoll account may use on a server it may share with other accounts. */
export interface AccountLimits {
  maxFile: string;
  maxMemory: string;
  maxStreams: number;
  maxConsumers: number;
}

/**
 * Room for a few days of events from a fleet of hundreds of clusters; raise it with the server's
 * disk (the server refuses to start if the account may use more than it has).
 */
export const DEFAULT_ACCOUNT_LIMITS: AccountLimits = {
  maxFile: "10G",
  maxMemory: "1G",
  maxStreams: 64,
  maxConsumers: 20_000,
};

/** What makes a server one of a JetStream cluster's (three, so a lost one loses nothing). */
export interface NatsClusterMembership {
  /**
   * The server's name, unique in the cluster; `$NAME` takes it from the environment (a
   * StatefulSet's pod name), which the server substitutes when it reads the file.
   */
  serverName: string;
  /** The cluster's name, the same on every server. */
  name: string;
  /** Where this server listens for the others' routes. */
  listen: string;
  /** The routes to every server (its own is ignored), as nats-route:// URLs. */
  routes: string[];
}

/** A server's TLS files: its certificate and key, and the CA that signed its peers'. */
export interface NatsTlsFiles {
  certFile: string;
  keyFile: string;
  caFile?: string;
}

function tlsBlock(tls: NatsTlsFiles, indent: string, verifyPeers: boolean): string[] {
  return [
    "tls {",
    `  cert_file: ${quote(tls.certFile)}`,
    `  key_file: ${quote(tls.keyFile)}`,
    ...(tls.caFile ? [`  ca_file: ${quote(tls.caFile)}`] : []),
    ...(verifyPeers ? ["  verify: true"] : []),
    "  timeout: 5",
    "}",
  ].map((line) => `${indent}${line}`);
}

function clusterBlock(cluster: NatsClusterMembership, tls: NatsTlsFiles | undefined): string[] {
  const fromEnvironment = /^\$[A-Za-z_][A-Za-z0-9_]*$/.test(cluster.serverName);
  return [
    `server_name: ${fromEnvironment ? cluster.serverName : quote(cluster.serverName)}`,
    "cluster {",
    `  name: ${quote(cluster.name)}`,
    `  listen: ${quote(cluster.listen)}`,
    `  routes: [${cluster.routes.map(quote).join(", ")}]`,
    // Routes carry every message of every account. Over TLS, each server shows the others a
    // certificate its CA signed, so nothing else that reaches the route port can join as a route.
    ...(tls ? tlsBlock(tls, "  ", tls.caFile !== undefined) : []),
    "}",
  ];
}

/**
 * A nats-server configuration with JetStream and one nkey user per identity. Users without
 * permissions (the hub) may do anything; agents get exactly agentPermissions and may answer
 * requests sent to them. Nothing is anonymous: a client without a known nkey is refused. The
 * listen address is always explicit, TLS is configured unless the caller says it is not wanted
 * (a demo on loopback), and the account's JetStream use is capped so it cannot fill storage
 * other accounts on the server share.
 */
export function renderServerConfig(options: {
  port: number;
  storeDir: string;
  identities: NatsIdentity[];
  host: string;
  /** Clients' TLS, and the routes' too on a cluster, where the CA (if given) must sign each server's certificate. */
  tls?: NatsTlsFiles;
  limits?: AccountLimits;
  /** One server of a JetStream cluster: its name and its routes to the others. */
  cluster?: NatsClusterMembership;
  /** Serves /healthz (for probes) and monitoring on this port. */
  monitorPort?: number;
}): string {
  const users = options.identities.map((identity) => {
    const lines = [
      `      # ${identity.description.replace(/\n/g, " ")}`,
      `      { nkey: ${quote(identity.nkey)}`,
    ];
    if (identity.permissions) {
      const list = (subjects: string[]) => subjects.map(quote).join(", ");
      lines.push(
        `        permissions: {`,
        `          publish: { allow: [${list(identity.permissions.publish)}] }`,
        `          subscribe: { allow: [${list(identity.permissions.subscribe)}] }`,
        `          allow_responses: true`,
        `        }`,
      );
    }
    lines.push("      }");
    return lines.join("\n");
  });
  const limits = options.limits ?? DEFAULT_ACCOUNT_LIMITS;
  const tls = options.tls;
  return [
    "# Generated by `atoll cluster nats-config` from the cluster registry; edits are overwritten.",
    `host: ${quote(options.host)}`,
    `port: ${options.port}`,
    ...(options.monitorPort ? [`http_port: ${options.monitorPort}`] : []),
    ...(options.cluster ? clusterBlock(options.cluster, tls) : []),
    // Clients are not asked for certificates: their nkeys identify them.
    ...(tls ? tlsBlock(tls, "", false) : []),
    `jetstream { store_dir: ${quote(options.storeDir)} }`,
    // One account for Atoll with JetStream on; its streams are invisible to any other account
    // the operator adds to this server, and its storage is capped.
    "accounts {",
    "  ATOLL {",
    `    jetstream: { max_file: ${limits.maxFile}, max_mem: ${limits.maxMemory}, max_streams: ${limits.maxStreams}, max_consumers: ${limits.maxConsumers} }`,
    "    users = [",
    users.join("\n"),
    "    ]",
    "  }",
    "}",
    "",
  ].join("\n");
}
