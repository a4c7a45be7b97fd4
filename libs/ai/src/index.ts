export {
  type AnswerEvent,
  answer,
  diagnoseTask,
  explainTask,
  type IssueLike,
  interpretTask,
  type Language,
  promptPreview,
  type Task,
} from "./features.js";
export { imageRepository, Masker } from "./mask.js";
export { type ChatMessage, type ChatModelConfig, complete, ModelError, stream } from "./provider.js";
