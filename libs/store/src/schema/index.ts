export * from "./access.js";
export * from "./clusters.js";
export * from "./insight.js";
export * from "./metrics.js";
export * from "./placement.js";
export * from "./resources.js";
