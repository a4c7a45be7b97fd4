import { parseArgs } from "node:util";
import { type Any, HUB_OPTIONS, HUB_USAGE, hubOf, table } from "./hub.js";
import { SetupError } from "./infra.js";

export const TOKEN_USAGE = `atoll token <command>:
  create --role ROLE [--name NAME] [--expires 30d]   make a token; it is printed once, keep it
  list                                              tokens (never their secrets)
  revoke ID                                         stop a token working
atoll role <command>:
  put NAME --verbs read[,admin,...] [--clusters a,b] [--namespaces x,y] [--kinds Pod,Deployment]
                                                    create or replace a role with one grant (* = any)
  list                                              roles and their grants
  delete NAME                                       delete a role no live token holds
${HUB_USAGE}`;

const list = (text: string | undefined) =>
  (text ?? "*")
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean);

export async function runToken(args: string[], print: (text: string) => void): Promise<void> {
  const [command, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      ...HUB_OPTIONS,
      role: { type: "string" },
      name: { type: "string" },
      expires: { type: "string" },
    },
  });
  const hub = hubOf(values);
  switch (command) {
    case "create": {
      if (!values.role)
        throw new SetupError("token create needs --role (admin, viewer, or one made with `atoll role put`)");
      const answer = await hub.call("POST", "/api/v1/tokens", {
        name: values.name ?? `${values.role}-${new Date().toISOString().slice(0, 10)}`,
        role: values.role,
        ...(values.expires ? { expiresIn: values.expires } : {}),
      });
      print(`token: ${answer.token}`);
      print(`id: ${answer.id}  role: ${answer.role}  expires: ${answer.expiresAt ?? "never"}`);
      return;
    }
    case "list": {
      const { items } = await hub.call("GET", "/api/v1/tokens");
      print(
        table([
          ["ID", "NAME", "ROLE", "CREATED", "EXPIRES", "REVOKED"],
          ...items.map((t: Any) => [
            t.id,
            t.name,
            t.role,
            t.createdAt,
            t.expiresAt ?? "-",
            t.revokedAt ?? "-",
          ]),
        ]),
      );
      return;
    }
    case "revoke": {
      const [id] = positionals;
      if (!id) throw new SetupError("token revoke needs the token's ID (see atoll token list)");
      await hub.call("DELETE", `/api/v1/tokens/${encodeURIComponent(id)}`);
      print(`revoked ${id}`);
      return;
    }
    default:
      print(TOKEN_USAGE);
      if (command !== undefined && command !== "help")
        throw new SetupError(`unknown token command "${command}"`);
  }
}

export async function runRole(args: string[], print: (text: string) => void): Promise<void> {
  const [command, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      ...HUB_OPTIONS,
      verbs: { type: "string" },
      clusters: { type: "string" },
      namespaces: { type: "string" },
      kinds: { type: "string" },
    },
  });
  const hub = hubOf(values);
  const [name] = positionals;
  switch (command) {
    case "put": {
      if (!name || !values.verbs)
        throw new SetupError("role put needs a NAME and --verbs, e.g. --verbs read");
      const grant = {
        verbs: list(values.verbs),
        clusters: list(values.clusters),
        namespaces: list(values.namespaces),
        kinds: list(values.kinds),
      };
      await hub.call("PUT", `/api/v1/roles/${encodeURIComponent(name)}`, { grants: [grant] });
      print(`role ${name}: ${JSON.stringify(grant)}`);
      return;
    }
    case "list": {
      const { items } = await hub.call("GET", "/api/v1/roles");
      print(
        table([
          ["NAME", "BUILTIN", "GRANTS"],
          ...items.map((r: Any) => [r.name, String(r.builtin), JSON.stringify(r.grants)]),
        ]),
      );
      return;
    }
    case "delete": {
      if (!name) throw new SetupError("role delete needs a NAME");
      await hub.call("DELETE", `/api/v1/roles/${encodeURIComponent(name)}`);
      print(`deleted role ${name}`);
      return;
    }
    default:
      print(TOKEN_USAGE);
      if (command !== undefined && command !== "help")
        throw new SetupError(`unknown role command "${command}"`);
  }
}
