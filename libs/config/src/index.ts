import { z } from "zod";

export { z } from "zod";

export class ConfigError extends Error {
  readonly code = "CONFIG_INVALID";
}

/**
 * Reads a typed config from environment variables. Schema keys are the variable names, so an
 * error can name exactly what to set.
 */
export function loadConfig<Shape extends z.ZodRawShape>(
  shape: Shape,
  env: Record<string, string | undefined> = process.env,
): z.infer<z.ZodObject<Shape>> {
  const parsed = z.object(shape).safeParse(env);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
  throw new ConfigError(`invalid configuration; fix these environment variables: ${problems.join("; ")}`);
}

/** An on/off setting: true or 1 turns it on; off when unset. */
export const envFlag = () =>
  z
    .enum(["true", "false", "1", "0"])
    .default("false")
    .transform((v) => v === "true" || v === "1");

/** Common settings every service shares. */
export const commonConfig = {
  NATS_URL: z.string().default("nats://127.0.0.1:4222"),
  DATABASE_URL: z.string().default("postgres://postgres@127.0.0.1:5432/atoll"),
  /** Prefix for stream, consumer and KV names, so test runs and tenants do not collide. */
  ATOLL_BUS_PREFIX: z.string().default(""),
  /**
   * How many messages one cluster may have waiting for the hub in a stream it writes; more are
   * refused until the hub catches up, so one cluster cannot fill the storage all share (1,000
   * when unset).
   */
  ATOLL_BUS_CLUSTER_BACKLOG: z.coerce.number().int().min(10).max(10_000_000).optional(),
  /**
   * How many NATS servers keep each stream and bucket: 1 (the default) on one server, 3 on a
   * three-server cluster. Hub services declare it at start; raising it later replicates in place.
   */
  ATOLL_BUS_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
  LOG_LEVEL: z.string().default("info"),
  /** File with this process's NATS nkey seed, where the server requires authentication. */
  NATS_CREDENTIALS: z.string().optional(),
};

interface ShutdownLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * Runs stop() once on SIGTERM or SIGINT and exits 0 when it finishes (1 if it fails); a second
 * signal exits at once. Also logs, rather than crashes on, stray promise rejections.
 */
export function onShutdown(logger: ShutdownLogger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal }, "shutting down");
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => handler("SIGTERM"));
  process.on("SIGINT", () => handler("SIGINT"));
  process.on("unhandledRejection", (reason) => logger.error({ err: reason }, "unhandled promise rejection"));
}
export { readYamlMapping } from "./file.js";
export { serveHealth } from "./health.js";
export {
  hasSealedValues,
  openSecret,
  openSecretValues,
  parseSecretKey,
  SecretKeyError,
  sealSecret,
  sealSecretValues,
  templateKey,
  workKey,
} from "./secrets.js";
