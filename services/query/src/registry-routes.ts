import { visibleClusters } from "@atoll/access";
import { SecretKeyError, z } from "@atoll/config";
import { type ClusterRegistry, RegistrationError, SyncRulesError } from "@atoll/registry";
import { RegistryError } from "@atoll/store";
import type { FastifyInstance } from "fastify";
import { demand, forbidden } from "./auth.js";
import { badRequest, HttpProblem, parseBody } from "./problem.js";

const taint = z.object({
  key: z.string().min(1),
  value: z.string().optional(),
  effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]),
});
const placementFields = {
  labels: z.record(z.string(), z.string()).optional(),
  provider: z.string().optional(),
  region: z.string().optional(),
  zone: z.string().optional(),
  taints: z.array(taint).optional(),
  syncRules: z.string().optional(),
  gatewayImpersonate: z.boolean().optional(),
  gatewayReadOnly: z.boolean().optional(),
};
const registration = z.discriminatedUnion("mode", [
  z.object({
    mode: z.literal("push"),
    name: z.string().optional(),
    kubeconfig: z.string().min(1),
    context: z.string().optional(),
    ...placementFields,
  }),
  z.object({ mode: z.literal("pull"), name: z.string().min(1), ...placementFields }),
]);
const update = z.object(placementFields).strict();

function asProblem(error: unknown): unknown {
  if (error instanceof RegistryError) {
    return new HttpProblem(
      error.code === "CLUSTER_EXISTS" ? 409 : 404,
      error.code,
      error.code === "CLUSTER_EXISTS" ? "Conflict" : "Not found",
      error.message,
    );
  }
  if (error instanceof RegistrationError || error instanceof SyncRulesError)
    return badRequest(error.code, error.message);
  if (error instanceof SecretKeyError)
    return new HttpProblem(503, error.code, "Hub not configured", error.message);
  return error;
}

/** POST/PATCH/DELETE /api/v1/clusters: the cluster registry. */
export function registryRoutes(app: FastifyInstance, registry: ClusterRegistry): void {
  app.post("/api/v1/clusters", async (request, reply) => {
    demand(request, "admin");
    const body = parseBody(registration, request.body);
    // A push kubeconfig without a name registers a cluster per context, named only once read.
    if (body.name) demand(request, "admin", { cluster: body.name });
    else if (visibleClusters(request.principal, "admin") !== "all")
      throw forbidden(
        `${request.principal.name} may administer only some clusters, so must name the cluster it registers`,
      );
    try {
      if (body.mode === "push") {
        const { mode: _mode, kubeconfig, context, name, ...fields } = body;
        const names = await registry.registerPush({
          ...fields,
          kubeconfig,
          ...(context ? { context } : {}),
          ...(name ? { name } : {}),
        });
        return reply.status(201).send({ mode: "push", clusters: names });
      }
      const { mode: _mode, ...fields } = body;
      return reply.status(201).send({ mode: "pull", ...(await registry.registerPull(fields)) });
    } catch (error) {
      throw asProblem(error);
    }
  });

  app.patch("/api/v1/clusters/:name", async (request) => {
    const { name } = request.params as { name: string };
    demand(request, "admin", { cluster: name });
    try {
      await registry.update(name, parseBody(update, request.body));
      return { updated: name };
    } catch (error) {
      throw asProblem(error);
    }
  });

  app.delete("/api/v1/clusters/:name", async (request) => {
    const { name } = request.params as { name: string };
    demand(request, "admin", { cluster: name });
    try {
      return { deleted: name, ...(await registry.delete(name)) };
    } catch (error) {
      throw asProblem(error);
    }
  });
}
