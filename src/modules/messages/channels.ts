import nodemailer from 'nodemailer';
import type { Config } from '../../config.js';
import type { Language, ReminderChannel } from '../../db/types.js';

/**
 * Channels are adapters (SPEC §8): e-mail over SMTP with nodemailer, SMS and WhatsApp over
 * an HTTP provider. Each answers what became of one message:
 *   - `sent`: the server or provider accepted it;
 *   - `bounced`: it refused the recipient or the message for good (SMTP 5xx to the
 *     envelope or the data, a provider's 400/404/410/422): retrying would not help;
 *   - `retry`: anything else (server down, timeout, 4xx, 429, 5xx): the delivery worker
 *     tries again later with backoff, then marks the message failed.
 */
export interface OutgoingMessage {
  id: string;
  channel: ReminderChannel;
  language: Language;
  recipient: string;
  subject: string | null;
  body: string;
}

export type SendOutcome = { status: 'sent'; providerMessageId: string | null } | { status: 'bounced' | 'retry'; error: string };

export interface ChannelAdapter {
  readonly channel: ReminderChannel;
  send(message: OutgoingMessage): Promise<SendOutcome>;
  close(): Promise<void>;
}

export type Channels = Partial<Record<ReminderChannel, ChannelAdapter>>;

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error)).slice(0, 500);

interface SmtpError {
  code?: string;
  responseCode?: number;
}

/** E-mail over SMTP (`SMTP_URL`, e.g. smtp://user:pass@mail.example.com:587; smtps:// for TLS from the start). */
export function smtpChannel(options: { url: string; from: string; timeoutMs?: number }): ChannelAdapter {
  const timeout = options.timeoutMs ?? 15_000;
  const transport = nodemailer.createTransport({ url: options.url, connectionTimeout: timeout, greetingTimeout: timeout, socketTimeout: timeout });
  return {
    channel: 'email',
    async send(message) {
      try {
        const info = await transport.sendMail({
          from: options.from,
          to: message.recipient,
          subject: message.subject ?? '',
          text: message.body,
          // One Message-ID per message: a retry after a lost answer is recognisably the same mail.
          messageId: `<${message.id}@bursar.messages>`,
          headers: { 'Content-Language': message.language, 'X-Bursar-Message-Id': message.id },
        });
        return { status: 'sent', providerMessageId: info.messageId ?? null };
      } catch (error) {
        const { code, responseCode } = (error ?? {}) as SmtpError;
        const refused = responseCode !== undefined && responseCode >= 500 && (code === 'EENVELOPE' || code === 'EMESSAGE');
        return { status: refused ? 'bounced' : 'retry', error: describe(error) };
      }
    },
    close() {
      transport.close();
      return Promise.resolve();
    },
  };
}

/**
 * SMS or WhatsApp through an HTTP provider: `POST <url>` with
 * `{channel, to, body, reference}` (JSON), `Authorization: Bearer <token>` when a token is
 * set and `Idempotency-Key: <message id>`; a 2xx answer `{id}` is the provider's message id.
 * Any SMS/WhatsApp gateway is one small relay away from this contract (docs/messaging.md).
 */
export function httpProviderChannel(options: { channel: 'sms' | 'whatsapp'; url: string; token?: string | undefined; timeoutMs?: number }): ChannelAdapter {
  const timeout = options.timeoutMs ?? 10_000;
  return {
    channel: options.channel,
    async send(message) {
      let response: Response;
      try {
        response = await fetch(options.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'idempotency-key': message.id,
            ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          },
          body: JSON.stringify({ channel: options.channel, to: message.recipient, body: message.body, reference: message.id }),
          signal: AbortSignal.timeout(timeout),
        });
      } catch (error) {
        return { status: 'retry', error: describe(error) };
      }
      const text = (await response.text().catch(() => '')).slice(0, 2000);
      if (response.ok) {
        let id: unknown = null;
        try {
          id = (JSON.parse(text) as { id?: unknown }).id;
        } catch {
          // a provider that answers no JSON still accepted the message
        }
        return { status: 'sent', providerMessageId: typeof id === 'string' || typeof id === 'number' ? String(id) : null };
      }
      const error = `provider answered ${response.status}${text ? `: ${text.slice(0, 300)}` : ''}`;
      return { status: [400, 404, 410, 422].includes(response.status) ? 'bounced' : 'retry', error };
    },
    close: () => Promise.resolve(),
  };
}

/** The channels this installation sends on (an unset one's messages go to the outbox). */
export function channelsFromConfig(config: Pick<Config, 'messaging'>): Channels {
  const { smtp, sms, whatsapp } = config.messaging;
  return {
    ...(smtp ? { email: smtpChannel(smtp) } : {}),
    ...(sms ? { sms: httpProviderChannel({ channel: 'sms', url: sms.url, token: sms.token }) } : {}),
    ...(whatsapp ? { whatsapp: httpProviderChannel({ channel: 'whatsapp', url: whatsapp.url, token: whatsapp.token }) } : {}),
  };
}

/** Which channels are configured, for deciding queued vs outbox without opening connections. */
export function configuredChannels(config: Pick<Config, 'messaging'>): ReadonlySet<ReminderChannel> {
  const { smtp, sms, whatsapp } = config.messaging;
  return new Set<ReminderChannel>([...(smtp ? ['email' as const] : []), ...(sms ? ['sms' as const] : []), ...(whatsapp ? ['whatsapp' as const] : [])]);
}

/**
 * How a new message starts (reminders, invitations): `queued` and due at once (the epoch:
 * earlier than any worker's now, whatever its clock) when its channel sends, else
 * `outbox`, where it waits for a person.
 */
export function initialDelivery(sending: ReadonlySet<ReminderChannel>, channel: ReminderChannel): { status: 'queued' | 'outbox'; next_attempt_at: Date | null } {
  return sending.has(channel) ? { status: 'queued', next_attempt_at: new Date(0) } : { status: 'outbox', next_attempt_at: null };
}

export async function closeChannels(channels: Channels): Promise<void> {
  await Promise.all(Object.values(channels).map((adapter) => adapter.close()));
}
