import type { Language } from '../../db/types.js';
import type { SimulatorSession } from './gatewaysim.store.js';

/**
 * The simulator's hosted checkout page: plain server-rendered HTML (a gateway's page, not
 * Bursar's app), phone first, in the session's language. No script: one form.
 */
const TEXT = {
  en: {
    title: 'Test payment gateway',
    banner: 'Test mode: no real card is charged.',
    payTo: 'Pay to',
    card: 'Card number',
    expiry: 'Expiry (MM/YY)',
    cvc: 'CVC',
    name: 'Name on card',
    pay: 'Pay {amount}',
    cancel: 'Cancel and go back',
    cards: 'Test cards',
    succeeds: 'succeeds',
    declined: 'is declined',
    insufficient: 'insufficient funds',
    anyExpiry: 'Any future expiry date and any 3 digits for the CVC.',
    notTestCard: 'Use one of the test cards below.',
    badExpiry: 'Enter a future expiry date as MM/YY.',
    badCvc: 'Enter the 3 or 4 digits of the CVC.',
    card_declined: 'Your card was declined. Try another card.',
    insufficient_funds: 'Your card has insufficient funds. Try another card.',
    complete: 'This payment is complete. Thank you!',
    expired: 'This checkout has expired. Go back and start again.',
    back: 'Back to the school',
  },
  es: {
    title: 'Pasarela de pago de prueba',
    banner: 'Modo de prueba: no se cobra a ninguna tarjeta real.',
    payTo: 'Pagar a',
    card: 'Número de tarjeta',
    expiry: 'Vencimiento (MM/AA)',
    cvc: 'CVC',
    name: 'Nombre en la tarjeta',
    pay: 'Pagar {amount}',
    cancel: 'Cancelar y volver',
    cards: 'Tarjetas de prueba',
    succeeds: 'se aprueba',
    declined: 'se rechaza',
    insufficient: 'fondos insuficientes',
    anyExpiry: 'Cualquier vencimiento futuro y cualquier CVC de 3 dígitos.',
    notTestCard: 'Use una de las tarjetas de prueba de abajo.',
    badExpiry: 'Escriba un vencimiento futuro como MM/AA.',
    badCvc: 'Escriba los 3 o 4 dígitos del CVC.',
    card_declined: 'Su tarjeta fue rechazada. Pruebe con otra tarjeta.',
    insufficient_funds: 'Su tarjeta no tiene fondos suficientes. Pruebe con otra tarjeta.',
    complete: 'Este pago está completo. ¡Gracias!',
    expired: 'Este pago venció. Vuelva e inicie de nuevo.',
    back: 'Volver a la escuela',
  },
} as const satisfies Record<Language, Record<string, string>>;

export type PageMessage = Exclude<keyof (typeof TEXT)['en'], 'title'>;

const COUNTRY: Record<string, string> = { MXN: 'MX', COP: 'CO', USD: 'US' };

export function formatAmount(amount: number, currency: string, language: Language): string {
  const locale = `${language}-${COUNTRY[currency] ?? (language === 'es' ? 'MX' : 'US')}`;
  const format = new Intl.NumberFormat(locale, { style: 'currency', currency, currencyDisplay: 'narrowSymbol' });
  return format.format(amount / 10 ** (format.resolvedOptions().maximumFractionDigits ?? 2));
}

const escapeHtml = (value: string) => value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

const STYLE = `
*{box-sizing:border-box}body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f1f5f9;color:#0f172a}
main{max-width:440px;margin:0 auto;padding:16px}
.banner{background:#fef3c7;color:#78350f;border-radius:8px;padding:8px 12px;font-size:14px;margin-bottom:12px}
.card{background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(15,23,42,.12);padding:20px;margin-bottom:12px}
h1{font-size:18px;margin:0 0 4px}.muted{color:#475569;font-size:14px;margin:0}.amount{font-size:32px;font-weight:700;margin:8px 0 0}
label{display:block;font-size:14px;font-weight:600;margin:12px 0 4px}
input{width:100%;font:inherit;padding:10px 12px;border:1px solid #cbd5e1;border-radius:8px}
.row{display:flex;gap:12px}.row>div{flex:1}
button{width:100%;margin-top:16px;font:inherit;font-weight:700;padding:12px;border:0;border-radius:8px;background:#4f46e5;color:#fff;cursor:pointer}
.error{background:#fee2e2;color:#7f1d1d;border-radius:8px;padding:10px 12px;margin:12px 0 0}
.ok{background:#dcfce7;color:#14532d;border-radius:8px;padding:10px 12px}
a{color:#4338ca}ul{padding-left:18px;margin:8px 0}code{font-size:14px}
`;

export function checkoutPage(session: SimulatorSession | undefined, options: { language: Language; message?: PageMessage; state: 'open' | 'complete' | 'expired' | 'missing'; values?: { name?: string } }): string {
  const language = session?.language ?? options.language;
  const t = TEXT[language];
  const amount = session ? formatAmount(session.amount, session.currency, language) : '';
  const head = `<!doctype html><html lang="${language}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${t.title} · Bursar</title><style>${STYLE}</style></head><body><main>`;
  const banner = `<p class="banner" role="note">${t.banner}</p>`;
  const summary = session
    ? `<section class="card"><p class="muted">${t.payTo}</p><h1>${escapeHtml(session.merchant)}</h1><p class="muted">${escapeHtml(session.description)}</p><p class="amount">${escapeHtml(amount)}</p></section>`
    : '';
  if (!session || options.state !== 'open') {
    const note = options.state === 'complete' ? `<p class="ok" role="status">${t.complete}</p>` : `<p class="error" role="alert">${t.expired}</p>`;
    const back = session ? `<p><a href="${escapeHtml(options.state === 'complete' ? session.successUrl : session.cancelUrl)}">${t.back}</a></p>` : '';
    return `${head}${banner}${summary}<section class="card">${note}${back}</section></main></body></html>`;
  }
  const error = options.message ? `<p class="error" role="alert">${escapeHtml(t[options.message])}</p>` : '';
  const form = `<section class="card"><form method="post" action="/gateway-simulator/checkout/${escapeHtml(session.id)}">
<label for="card">${t.card}</label><input id="card" name="card" inputmode="numeric" autocomplete="cc-number" placeholder="4242 4242 4242 4242" required maxlength="23">
<div class="row"><div><label for="expiry">${t.expiry}</label><input id="expiry" name="expiry" inputmode="numeric" autocomplete="cc-exp" placeholder="12/30" required maxlength="7"></div>
<div><label for="cvc">${t.cvc}</label><input id="cvc" name="cvc" inputmode="numeric" autocomplete="cc-csc" placeholder="123" required maxlength="4"></div></div>
<label for="name">${t.name}</label><input id="name" name="name" autocomplete="cc-name" maxlength="100" value="${escapeHtml(options.values?.name ?? '')}">
${error}<button type="submit">${escapeHtml(t.pay.replace('{amount}', amount))}</button></form>
<p><a href="/gateway-simulator/checkout/${escapeHtml(session.id)}/cancel">${t.cancel}</a></p></section>`;
  const cards = `<section class="card"><h1>${t.cards}</h1><ul><li><code>4242 4242 4242 4242</code> ${t.succeeds}</li><li><code>4000 0000 0000 0002</code> ${t.declined}</li><li><code>4000 0000 0000 9995</code> ${t.insufficient}</li></ul><p class="muted">${t.anyExpiry}</p></section>`;
  return `${head}${banner}${summary}${form}${cards}</main></body></html>`;
}
