export * from "./clusters.js";
export * from "./resources.js";
