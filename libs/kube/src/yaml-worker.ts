import { readYamlDocuments, YamlLimitError, type YamlLimits, type YamlWorkerAnswer } from "./yaml.js";

/** What a YAML worker sends back: the documents, or the limit the text broke. */

/** Reads one YAML stream on a worker thread; see readYamlDocumentsOffLoop. */
export default function readOnWorker(task: { text: string; limits: Partial<YamlLimits> }): YamlWorkerAnswer {
  try {
    return { documents: readYamlDocuments(task.text, task.limits) };
  } catch (error) {
    if (error instanceof YamlLimitError) return { limit: error.limit, message: error.message };
    throw error;
  }
}
