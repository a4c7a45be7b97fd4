import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { BusNames } from "./names.js";

const HOUR_NS = 3_600_000_000_000;
const TWO_MINUTES_NS = 120_000_000_000;

/** Stream definitions; the dedupe window is what makes Nats-Msg-Id retries safe. */
export function streamConfigs(names: BusNames): (Partial<StreamConfig> & { name: string })[] {
  const common = { storage: StorageType.File, duplicate_window: TWO_MINUTES_NS, num_replicas: 1 };
  return [
    {
      ...common,
      name: names.streams.resources,
      subjects: [names.all("res")],
      retention: RetentionPolicy.Limits,
      max_age: 72 * HOUR_NS,
    },
    {
      ...common,
      name: names.streams.placement,
      subjects: [names.placement()],
      retention: RetentionPolicy.Workqueue,
    },
    {
      ...common,
      name: names.streams.work,
      subjects: [names.all("work")],
      retention: RetentionPolicy.Limits,
      max_age: 7 * 24 * HOUR_NS,
    },
    {
      ...common,
      name: names.streams.workStatus,
      subjects: [names.all("wstat")],
      retention: RetentionPolicy.Limits,
      max_age: 72 * HOUR_NS,
    },
    {
      ...common,
      name: names.streams.deadLetter,
      subjects: [names.all("dlq")],
      retention: RetentionPolicy.Limits,
      max_age: 14 * 24 * HOUR_NS,
    },
  ];
}

/** Creates streams and the clusters bucket, or updates them in place; safe to run at every start. */
export async function ensureTopology(
  jsm: JetStreamManager,
  js: JetStreamClient,
  names: BusNames,
): Promise<void> {
  for (const config of streamConfigs(names)) {
    try {
      await jsm.streams.info(config.name);
      await jsm.streams.update(config.name, config);
    } catch (error) {
      if (!(error instanceof JetStreamApiError) || error.code !== JetStreamApiCodes.StreamNotFound)
        throw error;
      await jsm.streams.add(config);
    }
  }
  await new Kvm(js).create(names.clustersBucket, { history: 1 });
}
