import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { receiptFilename, receiptPdf } from '../../src/modules/receipts/receipts.render.js';
import type { ReceiptDocument } from '../../src/modules/receipts/receipts.schemas.js';
import { localIso, maskFamilyName } from '../../src/modules/receipts/receipts.service.js';
import { outsideMargins, readPdf, renderPng } from './pdf.js';

/** The receipt's rendering on its own (no database): shapes the HTTP tests do not reach. */

const base: ReceiptDocument = {
  kind: 'payment',
  paymentId: '01900000-0000-7000-8000-000000000001',
  familyPaymentId: null,
  number: null,
  schoolId: '01900000-0000-7000-8000-000000000002',
  schoolName: 'Sakura International School',
  schoolAddress: null,
  schoolPhone: null,
  familyId: null,
  familyReference: null,
  payer: 'Kenji Tanaka',
  students: ['Kenji Tanaka'],
  lines: [
    {
      paymentId: '01900000-0000-7000-8000-000000000001',
      invoiceId: '01900000-0000-7000-8000-000000000003',
      invoiceNumber: 'INV-000042',
      description: null,
      studentName: 'Kenji Tanaka',
      amount: 1_250_000,
      refunded: 250_000,
    },
  ],
  credited: 0,
  total: 1_250_000,
  refunded: 250_000,
  currency: 'JPY',
  method: 'direct_debit',
  reference: null,
  paidAt: '2026-03-31T15:30:00.000Z',
  localPaidAt: '2026-03-31T15:30:00Z',
  timeZone: 'UTC',
  balanceLeft: { owed: 250_000, credit: 0 },
  balanceAsOf: '2026-04-02T09:00:00.000Z',
};

describe('receipt rendering', () => {
  test('a payment from before receipts were numbered, JPY without decimals, UTC, a refund since, no family', async () => {
    const pdf = await receiptPdf(base, 'en');
    await renderPng(pdf, 'unnumbered-jpy');
    const pages = await readPdf(pdf);
    assert.equal(pages.length, 1);
    const [page] = pages;
    assert.ok(page);
    assert.deepEqual(outsideMargins(page), []);
    const text = page.lines.join('\n');
    assert.ok(page.lines.includes('Receipt'), text);
    assert.ok(page.lines.includes('(recorded before receipts were numbered)'), text);
    assert.ok(page.lines.includes('Date: 2026-03-31 15:30 UTC'), text);
    assert.ok(page.lines.includes('Method: Direct debit'), text);
    assert.ok(page.lines.includes('Total received JPY 1,250,000'), text);
    assert.ok(page.lines.includes('Refunded since: JPY 250,000'), text);
    assert.ok(page.lines.includes('Still owed JPY 250,000'), text);
    assert.ok(!page.lines.some((line) => line.startsWith('Family credit')), 'no family, no family credit');
    assert.ok(!page.lines.some((line) => line.startsWith('Family reference')));
  });

  test('names, dates and file names', () => {
    assert.equal(maskFamilyName('Pérez García'), 'P. G.');
    assert.equal(maskFamilyName('  Familia   de la Cruz '), 'F. C.');
    assert.equal(maskFamilyName('Ochoa'), 'O.');
    assert.equal(localIso(new Date('2026-12-02T18:45:00Z'), 'America/Mexico_City'), '2026-12-02T12:45:00-06:00');
    assert.equal(localIso(new Date('2026-07-01T12:00:00Z'), 'Asia/Kolkata'), '2026-07-01T17:30:00+05:30');
    assert.equal(localIso(new Date('2026-07-01T12:00:00Z'), 'UTC'), '2026-07-01T12:00:00Z');
    // The day it was paid, in the school's zone: 23:30 on 31 March in Mexico City is 1 April in UTC.
    const name = receiptFilename({ ...base, number: 'SAKU-2026-000007', paidAt: '2026-04-01T05:30:00.000Z', timeZone: 'America/Mexico_City' });
    assert.equal(name.ascii, 'bursar-receipt-sakura-international-school-saku-2026-000007-2026-03-31.pdf');
  });
});
