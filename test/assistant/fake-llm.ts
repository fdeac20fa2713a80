import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';

/**
 * A scripted OpenAI-compatible server for the tests: POST /v1/chat/completions and
 * GET /v1/models. It records every request body (for the leakage assertions) and answers
 * like a small tool-calling model:
 *
 *  - a chat with tools whose last message is the user's: one tool call chosen by keywords
 *    (or `nextTool`), e.g. "top debtors" → top_debtors {limit: 3};
 *  - a chat whose last message is a tool result: a final answer quoting the results it got;
 *  - a JSON task (response_format json_object): the draft in the payload, marked "[AI]".
 *
 * Modes: `timeout` (never answers), `error` (HTTP 500), `malformed` (no choices / not
 * JSON), `leak` (the final text contains `leakText`), `invent` (a number not in the data).
 */
export type FakeMode = 'normal' | 'timeout' | 'error' | 'malformed' | 'leak' | 'invent';

interface ChatMessage {
  role: string;
  content?: string | null;
  tool_calls?: { id: string; function: { name: string; arguments: string } }[];
}
export interface RecordedRequest {
  model: string;
  messages: ChatMessage[];
  tools?: { function: { name: string } }[];
  response_format?: { type: string };
  authorization: string | undefined;
}

export interface FakeLlm {
  /** Base URL for LLM_BASE_URL (ends in /v1). */
  baseUrl: string;
  requests: RecordedRequest[];
  mode: FakeMode;
  leakText: string;
  nextTool: { name: string; args: unknown } | null;
  /** Everything the app sent, as one string (for "never contains" assertions). */
  sentText(): string;
  reset(): void;
  close(): Promise<void>;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

function pickTool(question: string): { name: string; args: unknown } | null {
  const text = question.toLowerCase();
  const id = UUID.exec(question)?.[0];
  if (/debtors|deudores/.test(text)) {
    return { name: 'top_debtors', args: { limit: 3 } };
  }
  const school = /overdue in (?:school )?(.+?)\??$/i.exec(question);
  if (school?.[1]) {
    return { name: 'overdue_in_school', args: { school: school[1] } };
  }
  if (/collection rate|cobranza/.test(text)) {
    return { name: 'collection_rate', args: {} };
  }
  if (/compare|compara/.test(text)) {
    return { name: 'compare_schools', args: {} };
  }
  if (/risk|riesgo/.test(text) && id) {
    return { name: 'risk_for_student', args: { studentId: id } };
  }
  if (/owe|debe/.test(text)) {
    const name = /does (.+?) owe/i.exec(question)?.[1];
    return { name: 'get_student_balance', args: { student: id ?? name ?? question } };
  }
  return null;
}

function completion(message: Record<string, unknown>, finishReason: string) {
  return {
    id: `chatcmpl-${Math.random().toString(36).slice(2)}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: 'fake-model',
    choices: [{ index: 0, message: { role: 'assistant', content: null, ...message }, finish_reason: finishReason, logprobs: null }],
    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
  };
}

export async function startFakeLlm(): Promise<FakeLlm> {
  const sockets = new Set<Socket>();
  const held: ServerResponse[] = [];
  let callCounter = 0;

  const fake: FakeLlm = {
    baseUrl: '',
    requests: [],
    mode: 'normal',
    leakText: '',
    nextTool: null,
    sentText: () => JSON.stringify(fake.requests),
    reset() {
      fake.requests.length = 0;
      fake.mode = 'normal';
      fake.leakText = '';
      fake.nextTool = null;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const response of held) {
          response.destroy();
        }
        for (const socket of sockets) {
          socket.destroy();
        }
        server.close(() => resolve());
      }),
  };

  const send = (response: ServerResponse, status: number, body: unknown) => {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  };

  const handle = (request: IncomingMessage, response: ServerResponse, raw: string) => {
    if (request.method === 'GET' && request.url === '/v1/models') {
      return send(response, 200, { object: 'list', data: [{ id: 'fake-model', object: 'model', created: 0, owned_by: 'tests' }] });
    }
    if (request.method !== 'POST' || request.url !== '/v1/chat/completions') {
      return send(response, 404, { error: { message: 'not found' } });
    }
    const body = JSON.parse(raw) as Omit<RecordedRequest, 'authorization'>;
    fake.requests.push({ ...body, authorization: request.headers.authorization });
    switch (fake.mode) {
      case 'timeout':
        held.push(response);
        return;
      case 'error':
        return send(response, 500, { error: { message: 'the fake model failed', type: 'server_error' } });
      case 'malformed':
        return body.response_format?.type === 'json_object'
          ? send(response, 200, completion({ content: 'Sure! Here is your text, not JSON.' }, 'stop'))
          : send(response, 200, { id: 'x', object: 'chat.completion', created: 0, model: 'fake-model', choices: [] });
      case 'normal':
      case 'leak':
      case 'invent':
        break;
    }
    const last = body.messages[body.messages.length - 1];
    if (body.response_format?.type === 'json_object') {
      const payload = JSON.parse(last?.content ?? '{}') as { task: string; channel?: string; draft: Record<string, unknown> };
      const draft = payload.draft;
      let out: Record<string, unknown>;
      if (payload.task === 'risk_narrative') {
        out = { summary: `[AI] ${String(draft.summary)}`, recommendations: draft.recommendations, suggestedAction: draft.suggestedAction };
      } else if (payload.task === 'collection_message') {
        out = payload.channel === 'sms' ? { body: draft.body } : { subject: draft.subject, body: `[AI] ${String(draft.body)}` };
      } else {
        out = { narrative: `[AI] ${String(draft.narrative)}`, recommendedActions: draft.recommendedActions };
      }
      if (fake.mode === 'leak') {
        for (const key of ['summary', 'body', 'narrative']) {
          if (typeof out[key] === 'string') {
            out[key] = `${String(out[key])} ${fake.leakText}`;
          }
        }
      }
      if (fake.mode === 'invent') {
        for (const key of ['summary', 'body', 'narrative']) {
          if (typeof out[key] === 'string') {
            out[key] = `${String(out[key])} Pay 987,654.32 now.`;
          }
        }
      }
      return send(response, 200, completion({ content: JSON.stringify(out) }, 'stop'));
    }
    if (last?.role === 'tool') {
      const results = body.messages.filter((message) => message.role === 'tool').map((message) => message.content ?? '');
      let answer = `[AI] Here is what I found: ${results.join(' | ')}`;
      if (fake.mode === 'leak') {
        answer += ` ${fake.leakText}`;
      }
      if (fake.mode === 'invent') {
        answer = '[AI] They owe MX$987,654.32 in total.';
      }
      return send(response, 200, completion({ content: answer }, 'stop'));
    }
    const question = last?.content ?? '';
    const tool = fake.nextTool ?? pickTool(question);
    fake.nextTool = null;
    if (!tool) {
      return send(response, 200, completion({ content: '[AI] I can help with balances, overdue students, top debtors, collection rates and school comparisons.' }, 'stop'));
    }
    return send(
      response,
      200,
      completion({ tool_calls: [{ id: `call_${++callCounter}`, type: 'function', function: { name: tool.name, arguments: JSON.stringify(tool.args) } }] }, 'tool_calls'),
    );
  };

  const server = createServer((request, response) => {
    let raw = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (raw += chunk));
    request.on('end', () => {
      try {
        handle(request, response, raw);
      } catch (error) {
        send(response, 400, { error: { message: String(error) } });
      }
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return fake;
}
