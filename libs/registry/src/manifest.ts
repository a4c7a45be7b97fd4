import YAML from "yaml";

export interface AgentManifestOptions {
  cluster: string;
  natsUrl: string;
  /** The agent's nkey seed; it goes into a Secret in the member cluster and nowhere else. */
  credentials: string;
  /** The cluster's work key in base64, which opens the Secrets placed on it; with the seed, nowhere else. */
  workKey?: string;
  /** The hub's bus prefix (ATOLL_BUS_PREFIX), when it has one: the agent's subjects carry it. */
  busPrefix?: string;
  image: string;
  namespace?: string;
}

/** What a pull manifest says for NATS when the hub knows no address member clusters can dial. */
export const PLACEHOLDER_NATS_URL = "nats://SET-THE-HUB-NATS-ADDRESS:4222";

/**
 * The NATS URL to write into pull manifests when ATOLL_AGENT_NATS_URL is not set: the hub's own,
 * unless that is a loopback address no member cluster can reach; then a placeholder the user
 * must replace, rather than a manifest that dials itself.
 */
export function agentNatsUrlFrom(hubNatsUrl: string): string {
  let host: string;
  try {
    host = new URL(hubNatsUrl).hostname;
  } catch {
    return PLACEHOLDER_NATS_URL;
  }
  return /^(localhost|127\.\d+\.\d+\.\d+|\[::1\]|::1|0\.0\.0\.0)$/.test(host)
    ? PLACEHOLDER_NATS_URL
    : hubNatsUrl;
}

const WRITE = ["get", "create", "update", "patch", "delete"];

/**
 * Read every resource to index it: list and watch only. Without get, the wildcard cannot reach
 * pods/exec or pods/attach, which need get or create.
 */
export const AGENT_READ_RULES = [{ apiGroups: ["*"], resources: ["*"], verbs: ["list", "watch"] }];

/** Apply and withdraw the kinds a placement can deliver, and nothing else (infra/k8s/agent has the same). */
export const AGENT_APPLY_RULES = [
  {
    apiGroups: [""],
    resources: [
      "configmaps",
      "secrets",
      "services",
      "serviceaccounts",
      "persistentvolumeclaims",
      "namespaces",
    ],
    verbs: WRITE,
  },
  {
    apiGroups: ["apps"],
    resources: ["deployments", "statefulsets", "daemonsets", "replicasets"],
    verbs: WRITE,
  },
  { apiGroups: ["batch"], resources: ["jobs", "cronjobs"], verbs: WRITE },
  { apiGroups: ["networking.k8s.io"], resources: ["ingresses", "networkpolicies"], verbs: WRITE },
  { apiGroups: ["policy"], resources: ["poddisruptionbudgets"], verbs: WRITE },
  { apiGroups: ["autoscaling"], resources: ["horizontalpodautoscalers"], verbs: WRITE },
];

/**
 * Act as the Atoll user the hub names, so the gateway's requests meet this cluster's own RBAC.
 * Users and groups only: never service accounts or extra attributes.
 */
export const AGENT_GATEWAY_RULES = [
  { apiGroups: [""], resources: ["users", "groups"], verbs: ["impersonate"] },
];

const AGENT_ROLES = { read: AGENT_READ_RULES, apply: AGENT_APPLY_RULES, gateway: AGENT_GATEWAY_RULES };

/**
 * Everything a pull-mode agent needs in its member cluster: a namespace, a service account that
 * may list and watch every resource, apply the kinds placements deliver and impersonate gateway
 * callers, its NATS credentials
 * and a Deployment.
 */
export function agentManifest(options: AgentManifestOptions): string {
  const namespace = options.namespace ?? "atoll-system";
  const labels = { "app.kubernetes.io/name": "atoll-agent", "app.kubernetes.io/part-of": "atoll" };
  const documents = [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace, labels } },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "atoll-agent", namespace, labels } },
    ...Object.entries(AGENT_ROLES).flatMap(([role, rules]) => [
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRole",
        metadata: { name: `atoll-agent-${role}`, labels },
        rules,
      },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: { name: `atoll-agent-${role}`, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: `atoll-agent-${role}` },
        subjects: [{ kind: "ServiceAccount", name: "atoll-agent", namespace }],
      },
    ]),
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "atoll-agent-nats", namespace, labels },
      type: "Opaque",
      stringData: {
        "nats.nk": options.credentials,
        ...(options.workKey ? { "work.key": options.workKey } : {}),
      },
    },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "atoll-agent", namespace, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: "atoll-agent",
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 65532,
              seccompProfile: { type: "RuntimeDefault" },
            },
            containers: [
              {
                name: "agent",
                image: options.image,
                env: [
                  { name: "ATOLL_MODE", value: "pull" },
                  { name: "ATOLL_CLUSTER", value: options.cluster },
                  { name: "NATS_URL", value: options.natsUrl },
                  { name: "NATS_CREDENTIALS", value: "/etc/atoll/nats.nk" },
                  ...(options.busPrefix ? [{ name: "ATOLL_BUS_PREFIX", value: options.busPrefix }] : []),
                  ...(options.workKey
                    ? [
                        {
                          name: "ATOLL_WORK_KEY",
                          valueFrom: { secretKeyRef: { name: "atoll-agent-nats", key: "work.key" } },
                        },
                      ]
                    : []),
                  // A capped heap makes V8 collect rather than grow: ~210 MB RSS at 100k pods (bench:sync).
                  { name: "NODE_OPTIONS", value: "--max-old-space-size=160" },
                  { name: "HEALTH_PORT", value: "8081" },
                ],
                ports: [{ name: "health", containerPort: 8081 }],
                readinessProbe: { httpGet: { path: "/readyz", port: 8081 }, periodSeconds: 10 },
                livenessProbe: { httpGet: { path: "/healthz", port: 8081 }, periodSeconds: 20 },
                volumeMounts: [{ name: "nats", mountPath: "/etc/atoll", readOnly: true }],
                resources: {
                  requests: { cpu: "100m", memory: "128Mi" },
                  limits: { cpu: "1", memory: "512Mi" },
                },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ["ALL"] },
                },
              },
            ],
            volumes: [{ name: "nats", secret: { secretName: "atoll-agent-nats", defaultMode: 0o400 } }],
          },
        },
      },
    },
  ];
  return documents.map((d) => YAML.stringify(d)).join("---\n");
}
