export type { JsMsg } from "@nats-io/jetstream";
export type { KV } from "@nats-io/kv";
export { Bus, type BusOptions, type ConsumeOptions, type Consumption, type Delivery } from "./bus.js";
export { assertClusterName, type BusNames, busNames } from "./names.js";
export { streamConfigs } from "./topology.js";
