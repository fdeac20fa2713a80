/**
 * A local webhook receiver for trying Bursar's outbound webhooks (README "Webhooks",
 * docs/webhooks.md): listens on http://127.0.0.1:PORT/hooks, verifies each request's
 * Standard Webhooks signature with the endpoint's secret and prints the event.
 *
 *   node --import tsx scripts/webhook-receiver.ts whsec_… [port]
 *
 * Answers 204 to a verified request and 400 to one whose signature does not verify.
 */
import { createServer } from 'node:http';
import { Webhook } from 'standardwebhooks';

const [secret, portArgument] = process.argv.slice(2);
if (secret === undefined || !secret.startsWith('whsec_')) {
  console.error('usage: node --import tsx scripts/webhook-receiver.ts whsec_… [port]');
  process.exit(2);
}
const port = Number(portArgument ?? 4000);
const webhook = new Webhook(secret);

createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const headers = {
      'webhook-id': String(request.headers['webhook-id'] ?? ''),
      'webhook-timestamp': String(request.headers['webhook-timestamp'] ?? ''),
      'webhook-signature': String(request.headers['webhook-signature'] ?? ''),
    };
    try {
      const event = webhook.verify(body, headers) as { type: string; timestamp: string; data: { id?: string } };
      console.log(`${headers['webhook-id']} ${event.type} ${event.data.id ?? ''} verified`);
      console.log(JSON.stringify(event.data));
      response.writeHead(204).end();
    } catch (error) {
      console.log(`${headers['webhook-id']} NOT verified: ${(error as Error).message}`);
      response.writeHead(400).end();
    }
  });
}).listen(port, '127.0.0.1', () => console.log(`webhook receiver on http://127.0.0.1:${port}/hooks`));
