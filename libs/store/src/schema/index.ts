export * from "./access.js";
export * from "./clusters.js";
export * from "./resources.js";
