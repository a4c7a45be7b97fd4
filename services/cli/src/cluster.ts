import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { createNkeyUser, DEFAULT_ACCOUNT_LIMITS, natsIdentities, renderServerConfig } from "@atoll/bus";
import { type Any, HUB_OPTIONS, HUB_USAGE, hubOf, table } from "./hub.js";
import { SetupError } from "./infra.js";

export const CLUSTER_USAGE = `atoll cluster <command>:
  register NAME --pull [fields]            register a pull-mode cluster; prints the agent manifest
                                           (pipe it to: kubectl --context NAME apply -f -)
  register [NAME] --kubeconfig FILE [--context C] [fields]
                                           register push-mode clusters (every context if no NAME/--context)
  list                                     registered clusters with status
  update NAME [fields]                     change labels, region, zone, provider, taints or rules
  delete NAME                              stop syncing NAME and purge its rows
  hub-nkey --out FILE                      new NATS identity for the hub services: the seed goes to
                                           FILE (mode 600), the public key (U...) is printed
  nats-config --hub-nkey KEY --listen ADDR [--port N] [--store-dir DIR] [--out FILE] [--bootstrap]
              [--tls-cert F --tls-key F --tls-ca F] [--max-file 10G] [--max-memory 1G]
              [--server-name NAME|'$POD_NAME' --routes nats-route://H:6222,...] [--monitor-port 8222]
                                           NATS server config with one identity per pull cluster, bound to
                                           ADDR, with TLS (default files under /etc/nats/tls) and the
                                           account's JetStream storage capped
                                           (--bootstrap: the hub's alone, before the hub is running;
                                           --routes: one server of a three-server JetStream cluster)
fields: --label k=v (repeat) --region R --zone Z --provider P --taint key[=value]:Effect (repeat) --rules FILE
        --read-only true|false      the gateway refuses writes to the cluster (default false)
        --impersonate true|false    the gateway acts as the Atoll user in the cluster (default true)
${HUB_USAGE}`;

const FIELD_OPTIONS = {
  label: { type: "string", multiple: true },
  taint: { type: "string", multiple: true },
  region: { type: "string" },
  zone: { type: "string" },
  provider: { type: "string" },
  rules: { type: "string" },
  "read-only": { type: "string" },
  impersonate: { type: "string" },
  ...HUB_OPTIONS,
} as const;

function parseTaint(text: string): { key: string; value?: string; effect: string } {
  const match = /^([^=:]+)(?:=([^:]*))?:(NoSchedule|PreferNoSchedule|NoExecute)$/.exec(text);
  if (!match)
    throw new SetupError(
      `--taint "${text}" must look like key[=value]:NoSchedule|PreferNoSchedule|NoExecute`,
    );
  return { key: match[1]!, ...(match[2] !== undefined ? { value: match[2] } : {}), effect: match[3]! };
}

function switchValue(option: string, value: string | string[] | boolean | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === "true" || value === "false") return value === "true";
  throw new SetupError(`--${option} takes true or false, got "${String(value)}"`);
}

function fields(values: Record<string, string | string[] | boolean | undefined>): Record<string, unknown> {
  const labels = (values.label as string[] | undefined)?.map((pair) => {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new SetupError(`--label "${pair}" must look like key=value`);
    return [pair.slice(0, eq), pair.slice(eq + 1)];
  });
  return {
    ...(labels ? { labels: Object.fromEntries(labels) } : {}),
    ...(values.taint ? { taints: (values.taint as string[]).map(parseTaint) } : {}),
    ...(values.region !== undefined ? { region: values.region } : {}),
    ...(values.zone !== undefined ? { zone: values.zone } : {}),
    ...(values.provider !== undefined ? { provider: values.provider } : {}),
    ...(values.rules !== undefined ? { syncRules: readFileSync(values.rules as string, "utf8") } : {}),
    ...(values["read-only"] !== undefined
      ? { gatewayReadOnly: switchValue("read-only", values["read-only"]) }
      : {}),
    ...(values.impersonate !== undefined
      ? { gatewayImpersonate: switchValue("impersonate", values.impersonate) }
      : {}),
  };
}

export async function runCluster(args: string[], print: (text: string) => void): Promise<void> {
  const [command, ...rest] = args;
  switch (command) {
    case "register":
    case "add": {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: {
          ...FIELD_OPTIONS,
          pull: { type: "boolean" },
          kubeconfig: { type: "string" },
          context: { type: "string" },
        },
      });
      const [name] = positionals;
      if (Boolean(values.pull) === Boolean(values.kubeconfig))
        throw new SetupError("give exactly one of --pull or --kubeconfig FILE");
      if (values.pull) {
        if (!name) throw new SetupError("a pull-mode cluster needs a NAME");
        const answer = await hubOf(values).call("POST", "/api/v1/clusters", {
          mode: "pull",
          name,
          ...fields(values),
        });
        print(answer.manifest);
        return;
      }
      const answer = await hubOf(values).call("POST", "/api/v1/clusters", {
        mode: "push",
        kubeconfig: readFileSync(values.kubeconfig!, "utf8"),
        ...(name ? { name } : {}),
        ...(values.context ? { context: values.context } : {}),
        ...fields(values),
      });
      print(`registered (push): ${answer.clusters.join(", ")}`);
      return;
    }
    case "list": {
      const { values } = parseArgs({ args: rest, options: HUB_OPTIONS });
      const { items } = await hubOf(values).call("GET", "/api/v1/clusters");
      const rows = items.map((c: Any) => [
        c.name,
        c.registered ? c.syncMode : `${c.syncMode} (unregistered)`,
        c.online ? (c.ready ? "Ready" : "NotReady") : "Offline",
        c.kubernetesVersion || "-",
        [c.provider, c.region, c.zone].filter(Boolean).join("/") || "-",
        Object.entries(c.labels ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(",") || "-",
        String(c.objects),
      ]);
      print(table([["NAME", "MODE", "STATUS", "VERSION", "LOCATION", "LABELS", "OBJECTS"], ...rows]));
      return;
    }
    case "update": {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: FIELD_OPTIONS,
      });
      const [name] = positionals;
      if (!name) throw new SetupError("update needs a cluster NAME");
      await hubOf(values).call("PATCH", `/api/v1/clusters/${encodeURIComponent(name)}`, fields(values));
      print(`updated ${name}`);
      return;
    }
    case "delete": {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: HUB_OPTIONS,
      });
      const [name] = positionals;
      if (!name) throw new SetupError("delete needs a cluster NAME");
      const answer = await hubOf(values).call("DELETE", `/api/v1/clusters/${encodeURIComponent(name)}`);
      print(`deleted ${name}; purged ${answer.purged} objects`);
      return;
    }
    case "hub-nkey": {
      const { values } = parseArgs({ args: rest, options: { ...HUB_OPTIONS, out: { type: "string" } } });
      if (!values.out)
        throw new SetupError("hub-nkey needs --out FILE, where the hub services' seed is written");
      const pair = createNkeyUser();
      // The seed is the hub's NATS password: readable by its owner only, never printed.
      writeFileSync(values.out, `${new TextDecoder().decode(pair.getSeed())}\n`, { mode: 0o600, flag: "wx" });
      print(pair.getPublicKey());
      return;
    }
    case "nats-config": {
      const { values } = parseArgs({
        args: rest,
        options: {
          ...HUB_OPTIONS,
          "hub-nkey": { type: "string" },
          port: { type: "string" },
          "store-dir": { type: "string" },
          out: { type: "string" },
          bootstrap: { type: "boolean" },
          listen: { type: "string" },
          "tls-cert": { type: "string" },
          "tls-key": { type: "string" },
          "tls-ca": { type: "string" },
          "max-file": { type: "string" },
          "max-memory": { type: "string" },
          "server-name": { type: "string" },
          routes: { type: "string" },
          "monitor-port": { type: "string" },
        },
      });
      const routes = values.routes?.split(",").map((route) => route.trim());
      if (routes && !routes.every((route) => route.startsWith("nats-route://")))
        throw new SetupError(
          "--routes takes the cluster's servers as nats-route://HOST:6222, comma-separated",
        );
      if (routes && !values["server-name"])
        throw new SetupError(
          "--routes needs --server-name: each server of a cluster has its own (or $POD_NAME)",
        );
      if (!values["hub-nkey"]?.startsWith("U"))
        throw new SetupError("--hub-nkey must be the hub services' public user nkey (it starts with U)");
      if (!values.listen)
        throw new SetupError(
          "--listen must name the address NATS binds (the pod or host address agents reach; 0.0.0.0 only behind a firewall that admits agents alone)",
        );
      const size = (flag: string, value: string | undefined, fallback: string) => {
        if (value === undefined) return fallback;
        if (!/^\d+[KMGT]?$/.test(value))
          throw new SetupError(`--${flag} must be a size such as 512M or 10G, not "${value}"`);
        return value;
      };
      // Before the hub first starts there is no registry to read: the hub's identity alone.
      const { items } = values.bootstrap
        ? { items: [] }
        : await hubOf(values).call("GET", "/api/v1/clusters");
      const config = renderServerConfig({
        port: Number(values.port ?? 4222),
        host: values.listen,
        storeDir: values["store-dir"] ?? "/data/jetstream",
        tls: {
          certFile: values["tls-cert"] ?? "/etc/nats/tls/tls.crt",
          keyFile: values["tls-key"] ?? "/etc/nats/tls/tls.key",
          caFile: values["tls-ca"] ?? "/etc/nats/tls/ca.crt",
        },
        limits: {
          ...DEFAULT_ACCOUNT_LIMITS,
          maxFile: size("max-file", values["max-file"], DEFAULT_ACCOUNT_LIMITS.maxFile),
          maxMemory: size("max-memory", values["max-memory"], DEFAULT_ACCOUNT_LIMITS.maxMemory),
        },
        identities: natsIdentities(values["hub-nkey"], items, process.env.ATOLL_BUS_PREFIX ?? ""),
        ...(routes
          ? {
              cluster: { serverName: values["server-name"]!, name: "atoll", listen: "0.0.0.0:6222", routes },
            }
          : {}),
        ...(values["monitor-port"] ? { monitorPort: Number(values["monitor-port"]) } : {}),
      });
      if (values.out) {
        writeFileSync(values.out, config);
        print(`wrote ${values.out}; reload the server with: nats-server --signal reload`);
      } else print(config);
      return;
    }
    default:
      print(CLUSTER_USAGE);
      if (command !== undefined && command !== "help")
        throw new SetupError(`unknown cluster command "${command}"`);
  }
}
