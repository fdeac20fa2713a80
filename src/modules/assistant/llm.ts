import OpenAI from 'openai';
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import type { FallbackReason } from './assistant.schemas.js';

/**
 * The LLM provider: the official `openai` client against any OpenAI-compatible server
 * (LLM_BASE_URL), chat completions with function tools. It knows nothing about billing:
 * the service hands it tools whose `run` goes through the caller's scoped services, and
 * checks what comes back. Every failure is an LlmFailure with the reason the service
 * reports as `fallbackReason` when the rule engine answers instead.
 *
 * One attempt per call (maxRetries 0): a slow model should cost the user one timeout,
 * not three, before the rules answer.
 */
export class LlmFailure extends Error {
  constructor(
    readonly reason: FallbackReason,
    message: string,
  ) {
    super(message);
    this.name = 'LlmFailure';
  }
}

export interface ToolDefinition {
  name: string;
  description: string;
  /** JSON Schema of the arguments object. */
  parameters: Record<string, unknown>;
}

export interface ToolCallRecord {
  name: string;
  args: unknown;
  result: unknown;
}

export interface LlmHealth {
  lastError: string | null;
  lastErrorAt: Date | null;
  lastSuccessAt: Date | null;
}

/** The most model turns in one chat answer (each may call tools). */
export const MAX_TOOL_ROUNDS = 4;

export function createLlmProvider(options: { baseUrl: string; apiKey: string; model: string; timeoutMs: number }) {
  const client = new OpenAI({ baseURL: options.baseUrl, apiKey: options.apiKey, timeout: options.timeoutMs, maxRetries: 0 });
  const health: LlmHealth = { lastError: null, lastErrorAt: null, lastSuccessAt: null };
  let host: string | null = null;
  try {
    host = new URL(options.baseUrl).host;
  } catch {
    host = null;
  }

  function fail(reason: FallbackReason, message: string): never {
    health.lastError = `${reason}: ${message}`.slice(0, 300);
    health.lastErrorAt = new Date();
    throw new LlmFailure(reason, message);
  }

  async function complete(params: OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming) {
    let response: OpenAI.Chat.Completions.ChatCompletion;
    try {
      response = await client.chat.completions.create(params);
    } catch (error) {
      if (error instanceof OpenAI.APIConnectionTimeoutError || (error instanceof Error && error.name === 'AbortError')) {
        return fail('timeout', `no answer within ${options.timeoutMs} ms`);
      }
      if (error instanceof OpenAI.APIError) {
        return fail('llm_error', `HTTP ${error.status ?? '?'} from the model server`);
      }
      return fail('llm_error', error instanceof Error ? error.message : 'unknown error');
    }
    const message = Array.isArray(response.choices) ? response.choices[0]?.message : undefined;
    if (!message) {
      return fail('malformed_output', 'no choices in the completion');
    }
    return message;
  }

  return {
    model: options.model,
    host,
    health: (): LlmHealth => ({ ...health }),

    /** Records that a generated result passed the service's checks. */
    succeeded() {
      health.lastSuccessAt = new Date();
    },

    /** Records a failure found by the service (malformed or unsafe output). */
    rejected(reason: FallbackReason, message: string): never {
      return fail(reason, message);
    },

    /**
     * A tool-calling conversation: the model may call tools for up to MAX_TOOL_ROUNDS
     * turns; each call's arguments are parsed and passed to `run` (which validates them
     * and fetches through the caller's scope); the final text is returned with every call.
     */
    async runWithTools(
      system: string,
      user: string,
      tools: ToolDefinition[],
      run: (name: string, args: unknown) => Promise<unknown>,
    ): Promise<{ text: string; calls: ToolCallRecord[] }> {
      const messages: ChatCompletionMessageParam[] = [
        { role: 'system', content: system },
        { role: 'user', content: user },
      ];
      const specs: ChatCompletionTool[] = tools.map((tool) => ({
        type: 'function',
        function: { name: tool.name, description: tool.description, parameters: tool.parameters },
      }));
      const calls: ToolCallRecord[] = [];
      for (let round = 0; round < MAX_TOOL_ROUNDS; round++) {
        const message = await complete({ model: options.model, messages, tools: specs, tool_choice: 'auto', temperature: 0.2 });
        const toolCalls = (message.tool_calls ?? []).filter((call) => call.type === 'function');
        if (toolCalls.length === 0) {
          const text = typeof message.content === 'string' ? message.content.trim() : '';
          if (text.length === 0) {
            return fail('malformed_output', 'empty answer');
          }
          return { text, calls };
        }
        messages.push({ role: 'assistant', content: message.content ?? null, tool_calls: toolCalls });
        for (const call of toolCalls) {
          let args: unknown;
          try {
            args = call.function.arguments.trim() === '' ? {} : JSON.parse(call.function.arguments);
          } catch {
            args = undefined;
          }
          const result = args === undefined ? { error: 'arguments are not valid JSON' } : await run(call.function.name, args);
          calls.push({ name: call.function.name, args, result });
          messages.push({ role: 'tool', tool_call_id: call.id, content: JSON.stringify(result) });
        }
      }
      return fail('malformed_output', `no final answer after ${MAX_TOOL_ROUNDS} tool rounds`);
    },

    /** One JSON-object completion: the parsed object, or a malformed_output failure. */
    async json(system: string, payload: unknown): Promise<Record<string, unknown>> {
      const message = await complete({
        model: options.model,
        messages: [
          { role: 'system', content: system },
          { role: 'user', content: JSON.stringify(payload) },
        ],
        response_format: { type: 'json_object' },
        temperature: 0.3,
      });
      const text = typeof message.content === 'string' ? message.content.trim().replace(/^```(?:json)?\s*|\s*```$/g, '') : '';
      try {
        const parsed: unknown = JSON.parse(text);
        if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
          return parsed as Record<string, unknown>;
        }
      } catch {
        // fall through
      }
      return fail('malformed_output', 'the answer is not a JSON object');
    },
  };
}

export type LlmProvider = ReturnType<typeof createLlmProvider>;
