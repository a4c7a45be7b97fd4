export { resourceIndexName, resourceIndexTemplate } from "./mapping.js";
export {
  bulkBody,
  OpenSearchError,
  OpenSearchWriter,
  type OpenSearchWriterOptions,
  resourceDocument,
  sweepQuery,
} from "./writer.js";
