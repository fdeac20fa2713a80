import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/**
 * A real SMTP server on loopback (the `smtp-server` package) that keeps every mail it
 * accepts, parsed back with `mailparser`; `reject` makes it refuse recipients with 550.
 */
export interface TestSmtp {
  url: string;
  port: number;
  mails: ParsedMail[];
  /** Recipients refused with 550 (no such mailbox). */
  reject: Set<string>;
  close(): Promise<void>;
}

export async function startSmtp(): Promise<TestSmtp> {
  const mails: ParsedMail[] = [];
  const reject = new Set<string>();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(address, _session, callback) {
      if (reject.has(address.address.toLowerCase())) {
        const error = new Error('5.1.1 no such mailbox') as Error & { responseCode: number };
        error.responseCode = 550;
        callback(error);
        return;
      }
      callback();
    },
    onData(stream, _session, callback) {
      simpleParser(stream)
        .then((mail) => {
          mails.push(mail);
          callback();
        })
        .catch((error: Error) => callback(error));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    mails,
    reject,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A local SMS/WhatsApp provider speaking Bursar's HTTP provider contract; `answer` decides each reply. */
export interface TestProvider {
  url: string;
  requests: { headers: IncomingMessage['headers']; body: { channel: string; to: string; body: string; reference: string } }[];
  answer: (n: number) => { status: number; body?: unknown };
  close(): Promise<void>;
}

export async function startProvider(): Promise<TestProvider> {
  const provider: TestProvider = {
    url: '',
    requests: [],
    answer: (n) => ({ status: 202, body: { id: `prov-${n}` } }),
    close: async () => {},
  };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      provider.requests.push({ headers: request.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as TestProvider['requests'][number]['body'] });
      const { status, body } = provider.answer(provider.requests.length);
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body ?? {}));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  provider.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/messages`;
  provider.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return provider;
}
