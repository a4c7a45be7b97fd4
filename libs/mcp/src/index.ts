export { type ApiAnswer, type ApiCaller, type ApiRequest, pathWith, send, ToolError } from "./api.js";
export { bounded, MAX_OUTPUT_CHARS } from "./output.js";
export { type AtollMcpOptions, createAtollMcpServer } from "./server.js";
