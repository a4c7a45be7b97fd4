export * from "./ir.js";
export { resolveKind, unfamiliarKinds } from "./kinds.js";
