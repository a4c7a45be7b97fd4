import { type Logger, pino } from "pino";

export type { Logger } from "pino";

export interface LoggerOptions {
  /** Service or component name, e.g. "indexer". */
  service: string;
  level?: string;
  /** Extra fields on every line, e.g. { cluster: "prod-1" }. */
  bindings?: Record<string, string>;
  /** Write to this destination instead of stdout (tests, demo log files). */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? "info";
  const base = { service: options.service, pid: process.pid, ...options.bindings };
  return options.destination
    ? pino({ level, base }, options.destination as pino.DestinationStream)
    : pino({ level, base });
}

/** A logger that drops everything; for libraries used without a caller-supplied logger. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
