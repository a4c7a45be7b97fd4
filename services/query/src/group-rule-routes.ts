import { visibleClusters } from "@atoll/access";
import { deleteGroupRule, getGroupRule, listGroupRules, putGroupRule } from "@atoll/store";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type postgres from "postgres";
import { forbidden } from "./auth.js";
import { groupKey } from "./insight-routes.js";
import { badRequest, HttpProblem } from "./problem.js";

const RULE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const MAX_KEYS = 4;
const MAX_DESCRIPTION = 500;

/**
 * Saved resource-group rules, as Karpor keeps them: a name and the keys objects are grouped by
 * (label:app, label:env, namespace, region, ...). Anyone may list them and browse the groups a
 * rule makes (GET /api/v1/insight/groups?rule=NAME, within their read grants); they are shared by
 * the whole hub, so only an admin of every cluster may change them.
 */
export function groupRuleRoutes(app: FastifyInstance, sql: postgres.Sql): void {
  const demandFleetAdmin = (request: FastifyRequest) => {
    if (visibleClusters(request.principal, "admin") !== "all")
      throw forbidden(
        `${request.principal.name} (role ${request.principal.role}) may not change group rules, which every user of the hub shares; it takes admin on every cluster`,
      );
  };
  const nameOf = (request: FastifyRequest) => {
    const { name } = request.params as { name: string };
    if (!RULE_NAME.test(name))
      throw badRequest(
        "INVALID_NAME",
        `"${name.slice(0, 80)}" is not a rule name: lowercase letters, digits and "-", at most 63`,
      );
    return name;
  };

  app.get("/api/v1/insight/group-rules", async () => ({ items: await listGroupRules(sql) }));

  app.get("/api/v1/insight/group-rules/:name", async (request) => {
    const name = nameOf(request);
    const rule = await getGroupRule(sql, name);
    if (!rule) throw new HttpProblem(404, "NOT_FOUND", "Not found", `no group rule "${name}"`);
    return rule;
  });

  app.put("/api/v1/insight/group-rules/:name", async (request, reply) => {
    demandFleetAdmin(request);
    const name = nameOf(request);
    const body = (request.body ?? {}) as { keys?: unknown; description?: unknown };
    if (
      !Array.isArray(body.keys) ||
      body.keys.length === 0 ||
      body.keys.length > MAX_KEYS ||
      !body.keys.every(
        (k): k is string => typeof k === "string" && k.length > 0 && k.length <= 200 && !k.includes(","),
      )
    )
      throw badRequest(
        "INVALID_RULE",
        `keys must be 1 to ${MAX_KEYS} group keys, e.g. ["label:app", "label:env"] (cluster, namespace, kind, label:K, annotation:K, region, zone, provider, cluster-label:K)`,
      );
    for (const key of body.keys) groupKey(key);
    const description = body.description ?? "";
    if (typeof description !== "string" || description.length > MAX_DESCRIPTION)
      throw badRequest("INVALID_RULE", `description must be text of at most ${MAX_DESCRIPTION} characters`);
    const { created } = await putGroupRule(sql, {
      name,
      description,
      keys: body.keys,
      createdBy: request.principal.name,
    });
    reply.code(created ? 201 : 200);
    return getGroupRule(sql, name);
  });

  app.delete("/api/v1/insight/group-rules/:name", async (request, reply) => {
    demandFleetAdmin(request);
    const name = nameOf(request);
    if (!(await deleteGroupRule(sql, name)))
      throw new HttpProblem(404, "NOT_FOUND", "Not found", `no group rule "${name}"`);
    reply.code(204);
  });
}
