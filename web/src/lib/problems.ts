import { ApiError } from './api';
import { formatMoney } from './format';
import { translate } from './i18n';
import { problems } from './strings/problems';

/**
 * The API's refusals in the reader's language. The API answers in English (problem+json
 * `detail` and `errors[].message`), with amounts in minor units; a person reads a
 * sentence per error code and each field's message translated, amounts in currency
 * units (strings/problems.ts). A message this does not know is shown as the API wrote it.
 */

type Code = keyof typeof problems.en.problem;
const isKnownCode = (code: string | undefined): code is Code => code !== undefined && Object.hasOwn(problems.en.problem, code);

/** The sentence for a refusal's code, or null when the code has none (CONFLICT, BAD_REQUEST…: the API's own words then). */
export function problemSentence(error: unknown): string | null {
  if (!(error instanceof ApiError)) {
    return null;
  }
  const code = error.problem.code;
  return isKnownCode(code) ? translate(`problem.${code}`) : null;
}

/** The API's field messages this knows, each with its words; `money` writes an amount the message carries (minor units). */
const FIELD_RULES: [RegExp, (match: RegExpMatchArray, money: (minor: string) => string) => string][] = [
  [/^is required$|^must NOT have fewer than 1 characters?$|^must not be (blank|empty)$|^must match pattern "\\S"$/, () => translate('fieldError.required')],
  [/^must not be in the future$/, () => translate('fieldError.notFuture')],
  [/^is not a known field$/, () => translate('fieldError.unknown')],
  [/^is already taken$/, () => translate('fieldError.taken')],
  [/^does not exist$/, () => translate('fieldError.missing')],
  [/^is not allowed$/, () => translate('fieldError.notAllowed')],
  [/^must be >= (.+)$/, (m) => translate('fieldError.min', { limit: m[1] })],
  [/^must be > (.+)$/, (m) => translate('fieldError.exclusiveMin', { limit: m[1] })],
  [/^must be <= (.+)$/, (m) => translate('fieldError.max', { limit: m[1] })],
  [/^must be < (.+)$/, (m) => translate('fieldError.exclusiveMax', { limit: m[1] })],
  [/^must NOT have fewer than (\d+) characters$/, (m) => translate('fieldError.minLength', { limit: m[1] })],
  [/^must NOT have more than (\d+) characters$/, (m) => translate('fieldError.maxLength', { limit: m[1] })],
  [/^must match format "email"$/, () => translate('fieldError.email')],
  [/^must match format "date"$/, () => translate('fieldError.date')],
  [/^must match (format|pattern) /, () => translate('fieldError.format')],
  [/^must be equal to one of the allowed values$/, () => translate('fieldError.oneOf')],
  [/^must be integer$/, () => translate('fieldError.wholeNumber')],
  [/^must be (number|string|boolean|object|array|null)$/, () => translate('fieldError.wrongType')],
  [/^must not be before (\d{4}-\d{2}-\d{2})/, (m) => translate('fieldError.notBefore', { limit: m[1] })],
  [/^must not be after (\d{4}-\d{2}-\d{2})/, (m) => translate('fieldError.notAfter', { limit: m[1] })],
  [/^must not exceed the (?:open|pending) amount (-?\d+)$/, (m, money) => translate('fieldError.exceedsOpen', { amount: money(m[1] ?? '0') })],
  [/^must not exceed the refundable amount (-?\d+)$/, (m, money) => translate('fieldError.exceedsRefundable', { amount: money(m[1] ?? '0') })],
  [/^must not exceed what the family owes, (-?\d+)$/, (m, money) => translate('fieldError.exceedsFamilyOwes', { amount: money(m[1] ?? '0') })],
  [/^must be at least the settled amount (-?\d+)$/, (m, money) => translate('fieldError.belowSettled', { amount: money(m[1] ?? '0') })],
];

/** One field message of the API, in the reader's language; `currency` formats the amounts some of them carry. */
export function fieldMessage(message: string, currency?: string): string {
  const money = (minor: string) => (currency === undefined ? Number(minor).toLocaleString() : formatMoney(Number(minor), currency));
  for (const [pattern, say] of FIELD_RULES) {
    const match = message.match(pattern);
    if (match) {
      return say(match, money);
    }
  }
  return message;
}
