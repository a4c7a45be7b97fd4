export {
  type AnswerEvent,
  answer,
  diagnoseTask,
  explainTask,
  FEATURES,
  type Feature,
  type IssueLike,
  interpretTask,
  type Language,
  type Prompts,
  promptPreview,
  type Task,
} from "./features.js";
export { imageRepository, Masker } from "./mask.js";
export { PromptsError, readPrompts } from "./prompts.js";
export { type ChatMessage, type ChatModelConfig, complete, ModelError, stream } from "./provider.js";
