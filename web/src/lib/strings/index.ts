import { accounts } from './accounts.js';
import { amount } from './amount.js';
import { assistant } from './assistant.js';
import { audit } from './audit.js';
import { billing } from './billing.js';
import { billRuns } from './billruns.js';
import { collections } from './collections.js';
import { common } from './common.js';
import { families } from './families.js';
import { feePlans } from './feeplans.js';
import { invoice } from './invoice.js';
import { live } from './live.js';
import { monitoring } from './monitoring.js';
import { overview } from './overview.js';
import { pending } from './pending.js';
import { problems } from './problems.js';
import { reconciliation } from './reconciliation.js';
import { schoolCards } from './schoolcards.js';
import { webhooks } from './webhooks.js';

/**
 * Every string the dashboard shows, in Spanish and English: one file per part of the
 * dashboard, each with the same keys in both languages (its `es` is typed by its `en`;
 * test/web/strings.test.ts checks the rest). Top-level groups never repeat across files.
 */
export const STRING_FILES = { common, overview, billing, collections, invoice, families, billRuns, amount, pending, accounts, monitoring, feePlans, schoolCards, live, assistant, audit, reconciliation, webhooks, problems };

export const DASHBOARD_STRINGS = {
  en: { dashboard: { ...common.en, ...overview.en, ...billing.en, ...collections.en, ...invoice.en, ...families.en, ...billRuns.en, ...amount.en, ...pending.en, ...accounts.en, ...monitoring.en, ...feePlans.en, ...schoolCards.en, ...live.en, ...assistant.en, ...audit.en, ...reconciliation.en, ...webhooks.en, ...problems.en } },
  es: { dashboard: { ...common.es, ...overview.es, ...billing.es, ...collections.es, ...invoice.es, ...families.es, ...billRuns.es, ...amount.es, ...pending.es, ...accounts.es, ...monitoring.es, ...feePlans.es, ...schoolCards.es, ...live.es, ...assistant.es, ...audit.es, ...reconciliation.es, ...webhooks.es, ...problems.es } },
};
