/** An OpenAI-compatible chat completions endpoint: OpenAI, DeepSeek, Ollama, vLLM and gateways. */
export interface ChatModelConfig {
  /** For example https://api.openai.com/v1; /chat/completions is appended. */
  baseUrl: string;
  model: string;
  apiKey?: string;
  /** How long to wait for the first token, and between tokens after that. */
  timeoutMs?: number;
}

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export class ModelError extends Error {
  readonly code = "MODEL_FAILED";
}

const DEFAULT_TIMEOUT_MS = 30_000;

async function post(
  messages: ChatMessage[],
  config: ChatModelConfig,
  stream: boolean,
  signal: AbortSignal,
  fetchImpl: typeof fetch,
): Promise<Response> {
  let response: Response;
  try {
    response = await fetchImpl(`${config.baseUrl.replace(/\/$/, "")}/chat/completions`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(config.apiKey ? { authorization: `Bearer ${config.apiKey}` } : {}),
      },
      body: JSON.stringify({ model: config.model, temperature: 0, stream, messages }),
      signal,
    });
  } catch (error) {
    throw failure(error, config);
  }
  if (!response.ok) {
    const detail = (await response.text().catch(() => "")).slice(0, 200);
    throw new ModelError(`the model endpoint answered HTTP ${response.status}${detail ? `: ${detail}` : ""}`);
  }
  return response;
}

function failure(error: unknown, config: ChatModelConfig): ModelError {
  if (error instanceof ModelError) return error;
  const name = (error as Error)?.name;
  if (name === "TimeoutError" || name === "AbortError")
    return new ModelError(`the model did not answer within ${config.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`);
  return new ModelError(
    `the model endpoint could not be reached: ${(error as Error)?.message ?? String(error)}`,
  );
}

/** One answer, whole. */
export async function complete(
  messages: ChatMessage[],
  config: ChatModelConfig,
  fetchImpl: typeof fetch = fetch,
): Promise<string> {
  const signal = AbortSignal.timeout(config.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const response = await post(messages, config, false, signal, fetchImpl);
  let body: { choices?: { message?: { content?: unknown } }[] };
  try {
    body = (await response.json()) as typeof body;
  } catch (error) {
    throw failure(error, config);
  }
  const content = body.choices?.[0]?.message?.content;
  if (typeof content !== "string" || !content.trim()) throw new ModelError("the model returned no text");
  return content;
}

/**
 * The answer as it is written, from the server-sent events of a streaming completion. The timeout
 * restarts with every chunk, so a long answer may take as long as it needs while a stalled one
 * fails.
 */
export async function* stream(
  messages: ChatMessage[],
  config: ChatModelConfig,
  fetchImpl: typeof fetch = fetch,
): AsyncGenerator<string> {
  const controller = new AbortController();
  const timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let timer = setTimeout(() => controller.abort(), timeoutMs);
  const rearm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(), timeoutMs);
  };
  try {
    const response = await post(messages, config, true, controller.signal, fetchImpl);
    if (!response.body) throw new ModelError("the model endpoint sent no body");
    const decoder = new TextDecoder();
    let pending = "";
    let wrote = false;
    let finished = false;
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        if (finished) break;
        rearm();
        pending += decoder.decode(chunk, { stream: true });
        let newline = pending.indexOf("\n");
        while (newline >= 0) {
          const line = pending.slice(0, newline).trim();
          pending = pending.slice(newline + 1);
          newline = pending.indexOf("\n");
          if (!line.startsWith("data:")) continue;
          const data = line.slice(5).trim();
          if (data === "[DONE]") {
            finished = true;
            break;
          }
          let event: { choices?: { delta?: { content?: unknown } }[]; error?: { message?: string } };
          try {
            event = JSON.parse(data);
          } catch {
            throw new ModelError(`the model sent an event that is not JSON: ${data.slice(0, 80)}`);
          }
          if (event.error)
            throw new ModelError(`the model reported an error: ${event.error.message ?? "unknown"}`);
          const text = event.choices?.[0]?.delta?.content;
          if (typeof text === "string" && text) {
            wrote = true;
            yield text;
          }
        }
      }
    } catch (error) {
      throw failure(error, { ...config, timeoutMs });
    }
    if (!wrote) throw new ModelError("the model returned no text");
  } finally {
    clearTimeout(timer);
  }
}
