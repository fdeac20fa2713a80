import { forwardRef, useRef, useState, type ReactNode } from 'react';
import { amountErrorText, parseAmount, type AmountError } from '../lib/amount';
import { ApiError, downloadFile, uuid } from '../lib/api';
import { formatMoney, methodLabel, PAYMENT_METHODS } from '../lib/format';
import { translate, useT } from '../lib/i18n';
import { fieldMessage, problemSentence } from '../lib/problems';
import { Button, describeError, Field, Input, Notice, Select } from './ui';

/**
 * The pieces the money forms share (a payment on the invoice page, a family payment,
 * a credit note or write-off): the amount field, the method select, the optional
 * reference, what a refused request says, and the receipt download.
 */

/** What an amount a person typed is, or why not: not parsable, zero, or above `max` (with its message). */
export function checkAmount(text: string, currency: string, max?: { minor: number; message: (max: string) => string }): { ok: true; minor: number } | { ok: false; error: string } {
  const parsed = parseAmount(text, currency);
  if (!parsed.ok) {
    return { ok: false, error: translateAmountError(parsed.error) };
  }
  if (parsed.minor === 0) {
    return { ok: false, error: translate('money.positive') };
  }
  if (max !== undefined && parsed.minor > max.minor) {
    return { ok: false, error: max.message(formatMoney(max.minor, currency)) };
  }
  return parsed;
}

/** Why an amount was refused, in the dashboard's current language. */
export const translateAmountError = (error: AmountError) => amountErrorText(error, (key, values) => translate(key, values));

/** The amount input, labelled with its currency; its error and hint are read with it. */
export const AmountField = forwardRef<HTMLInputElement, { currency: string; value: string; onChange: (value: string) => void; hint?: ReactNode; error?: string | null; label?: string }>(
  function AmountField({ currency, value, onChange, hint, error, label }, ref) {
    const { t } = useT();
    return (
      <Field label={t('money.amountIn', { label: label ?? t('money.amount'), currency })} hint={hint} error={error}>
        <Input ref={ref} name="amount" inputMode="decimal" autoComplete="off" value={value} onChange={(event) => onChange(event.target.value)} required />
      </Field>
    );
  },
);

export function MethodField({ value, onChange }: { value: string; onChange: (value: string) => void }) {
  const { t } = useT();
  return (
    <Field label={t('money.method')}>
      <Select name="method" value={value} onChange={(event) => onChange(event.target.value)}>
        {PAYMENT_METHODS.map((method) => (
          <option key={method} value={method}>
            {methodLabel(method)}
          </option>
        ))}
      </Select>
    </Field>
  );
}

export function ReferenceField({ value, onChange, placeholder }: { value: string; onChange: (value: string) => void; placeholder?: string }) {
  const { t } = useT();
  return (
    <Field label={t('money.reference')}>
      <Input name="reference" value={value} maxLength={120} onChange={(event) => onChange(event.target.value)} placeholder={placeholder} />
    </Field>
  );
}

/**
 * A refused request in one line, in the reader's language: the sentence for its code
 * (lib/problems.ts), else the API's own words; `fallback` when nothing came back.
 */
export function problemText(error: unknown, fallback: string): string {
  return error instanceof ApiError ? (problemSentence(error) ?? error.message) : fallback;
}

/**
 * The API's field errors (problem+json `errors[]`) by field name, so a form shows each
 * under its field, in the reader's language; `currency` writes the amounts some carry.
 */
export function fieldErrorsOf(error: unknown, currency?: string): Record<string, string> {
  const fields: Record<string, string> = {};
  if (error instanceof ApiError) {
    for (const entry of error.problem.errors ?? []) {
      fields[entry.field.replace(/^body\./, '')] ??= fieldMessage(entry.message, currency);
    }
  }
  return fields;
}

/**
 * Receipt downloads (GET /payments/:id/receipt, a PDF): `download` for a row's button,
 * `failure` the notice to show when one failed. The receipt is in the browser's
 * language (Accept-Language), which need not be the dashboard's.
 */
export function useReceiptDownload(): { download: (paymentId: string, receiptNumber: string | null) => Promise<void>; failure: ReactNode } {
  const { t } = useT();
  const [failed, setFailed] = useState<unknown>(null);
  const download = async (paymentId: string, receiptNumber: string | null) => {
    setFailed(null);
    try {
      await downloadFile(`/payments/${paymentId}/receipt`, `receipt-${receiptNumber ?? paymentId.slice(0, 8)}.pdf`, 'application/pdf');
    } catch (error) {
      setFailed(error);
    }
  };
  const failure = failed ? (
    <div className="mb-3">
      <Notice tone="error" onDismiss={() => setFailed(null)}>
        <span className="font-semibold">{t('money.downloadFailed')}</span> {describeError(failed).detail}
      </Notice>
    </div>
  ) : null;
  return { download, failure };
}

/** A payment's receipt: a link-styled button named by the receipt number (the file needs the token, so no plain <a href>). */
export function ReceiptButton({ paymentId, receiptNumber, onDownload }: { paymentId: string; receiptNumber: string | null; onDownload: (paymentId: string, receiptNumber: string | null) => Promise<void> }) {
  const { t } = useT();
  return (
    <Button size="sm" variant="ghost" className="underline" onClick={() => void onDownload(paymentId, receiptNumber)} aria-label={t('money.downloadReceipt', { number: receiptNumber ?? '' }).trim()} data-testid="receipt-link">
      {receiptNumber ?? 'PDF'}
    </Button>
  );
}

/**
 * One Idempotency-Key per attempt: kept while the same request is retried after a lost
 * answer (so it is written once), renewed when the request changes or succeeds.
 */
export function useAttemptKey(): { keyFor: (body: unknown) => string; succeeded: () => void } {
  const attempt = useRef<{ key: string; signature: string } | null>(null);
  return {
    keyFor(body) {
      const signature = JSON.stringify(body);
      if (attempt.current?.signature !== signature) {
        attempt.current = { key: uuid(), signature };
      }
      return attempt.current.key;
    },
    succeeded() {
      attempt.current = null;
    },
  };
}
