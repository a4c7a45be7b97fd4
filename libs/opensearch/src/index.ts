export { OpenSearchClient, OpenSearchError, type OpenSearchWriterOptions } from "./client.js";
export { resourceIndexName, resourceIndexTemplate } from "./mapping.js";
export { likeToWildcard, searchRequest } from "./query.js";
export { searchOpenSearch } from "./search.js";
export { bulkBody, OpenSearchWriter, resourceDocument, sweepQuery } from "./writer.js";
