import { ApiError } from './api-error.js';
import { formatMoney } from './format.js';
import { translate } from './i18n.js';
import { problems } from './strings/problems.js';

/**
 * The API's refusals in the reader's language. The API answers in English (problem+json
 * `detail` and `errors[].message`), with amounts in minor units; a person reads a
 * sentence per error code, or, for the codes that cover many cases (CONFLICT,
 * BUSINESS_RULE_VIOLATION, NOT_FOUND…), per detail the API writes, and each field's
 * message translated, amounts in currency units (strings/problems.ts). A message this
 * does not know is shown as the API wrote it.
 */

type Code = keyof typeof problems.en.problem;
const isKnownCode = (code: string | undefined): code is Code => code !== undefined && Object.hasOwn(problems.en.problem, code);

/** The sentence for a refusal: its code's, else its detail's; null when neither is known (the API's own words then). */
export function problemSentence(error: unknown): string | null {
  if (!(error instanceof ApiError)) {
    return null;
  }
  const code = error.problem.code;
  return isKnownCode(code) ? translate(`problem.${code}`) : detailSentence(error.problem.detail);
}

/** A message of the API this knows: its pattern, and its words from the match (null: leave it as the API wrote it). */
type Rule<Extra extends unknown[] = []> = [RegExp, (match: RegExpMatchArray, ...extra: Extra) => string | null];

/** The words of the first rule whose pattern matches `text`; null when none does. */
function byRules<Extra extends unknown[]>(rules: readonly Rule<Extra>[], text: string, ...extra: Extra): string | null {
  for (const [pattern, say] of rules) {
    const match = text.match(pattern);
    if (match) {
      return say(match, ...extra);
    }
  }
  return null;
}

type Thing = keyof typeof problems.en.thing;
const isThing = (name: string | undefined): name is Thing => name !== undefined && Object.hasOwn(problems.en.thing, name);

/** The API's details (src/modules/*: AppError messages) this knows, each with its words. */
const DETAIL_RULES: Rule[] = [
  [/^the bank line is (?:already )?matched; unmatch it first$/, () => translate('detail.bankLineMatched')],
  [/^the bank line is not matched$/, () => translate('detail.bankLineNotMatched')],
  [/^the bank line changed meanwhile; reload it$/, () => translate('detail.bankLineChanged')],
  [/^the family payment left -?\d+ as family credit/, () => translate('detail.matchMadeCredit')],
  [/^instalments up to (\d{4}-\d{2}-\d{2}) were cancelled by an earlier withdrawal/, (m) => translate('detail.withdrawnInstalments', { date: m[1] })],
  [/^the currency of a school with invoices cannot change/, () => translate('detail.currencyLocked')],
  [/^the school has invoices still owed/, () => translate('detail.schoolOwes')],
  [/^the student still owes invoices/, () => translate('detail.studentOwes')],
  [/^this dead letter is resolved/, () => translate('detail.deadLetterResolved')],
  [/^the endpoint is disabled: enable it first/, () => translate('detail.endpointDisabled')],
  [/^the endpoint’s owner sees no school/, () => translate('detail.endpointOwnerNoSchool')],
  [/^this invitation was already used/, () => translate('detail.invitationUsed')],
  [/^this guardian already has a portal login$/, () => translate('detail.guardianHasLogin')],
  [/^the school has used all (\d+) family numbers/, (m) => translate('detail.familyNumbersExhausted', { count: Number(m[1]) })],
  [/^the family still has \d+ student/, () => translate('detail.familyHasStudents')],
  [/^the family still owes -?\d+ /, () => translate('detail.familyOwes')],
  [/^the family holds -?\d+ of credit/, () => translate('detail.familyHasCredit')],
  [/^the family already has (\d+) guardians/, (m) => translate('detail.familyGuardiansFull', { count: Number(m[1]) })],
  [/^the record is still referenced by other records$/, () => translate('detail.stillReferenced')],
  [/^a concurrent change conflicted with this request; retry it$/, () => translate('detail.concurrentChange')],
  [/^the invoice is paid in full: there is nothing to pay$/, () => translate('detail.invoicePaid')],
  [/^the family owes nothing: there is nothing to pay$/, () => translate('detail.familyOwesNothing')],
  [/^a guardian sees their family’s school only/, () => translate('detail.guardianSchools')],
  [/^an? \w+ sees every school; schoolIds must be empty$/, () => translate('detail.roleSeesAllSchools')],
  [/^a school_admin needs at least one school$/, () => translate('detail.schoolAdminNeedsSchool')],
  [/^you cannot change your own role$/, () => translate('detail.ownRole')],
  [/^you cannot deactivate yourself$/, () => translate('detail.deactivateSelf')],
  [/^a guardian user cannot change role/, () => translate('detail.guardianRole')],
  [/^money paid out is not a family’s payment$/, () => translate('detail.debitLine')],
  [/^the student is not active$/, () => translate('detail.studentInactive')],
  [/^paidAt is before (\d{4}-\d{2}-\d{2}), a year before the school was registered/, (m) => translate('detail.paidAtTooEarly', { date: m[1] })],
  [/^amount cannot drop below what is already settled/, () => translate('detail.belowSettled')],
  [/^the guardian has no e-mail address/, () => translate('detail.guardianNoEmail')],
  [/^reference has a wrong check digit/, () => translate('detail.referenceCheckDigit')],
  [/^only one guardian can be primary/, () => translate('detail.onePrimary')],
  [/^\w+ is not valid for this list/, () => translate('detail.cursorInvalid')],
  [/^([a-z][a-z -]*) not found$/, (m) => (isThing(m[1]) ? translate('detail.notFound', { thing: translate(`thing.${m[1]}`) }) : null)],
];

/** What a bank statement that cannot be read says (src/modules/reconciliation: StatementError), without its line. */
const STATEMENT_RULES: Rule[] = [
  [/^the header has no column "(.*)" \(it has: (.*)\)$/, (m) => translate('bankFile.noColumn', { column: m[1], columns: m[2] })],
  [/^date "(.*)" is not a (\S+) date( \(set the mapping's dateFormat[^)]*\))?$/, (m) => translate('bankFile.notADate', { value: m[1], format: m[2] }) + (m[3] ? translate('bankFile.dateHint') : '')],
  [/^amount "(.*)" is not an amount$/, (m) => translate('bankFile.notAnAmount', { value: m[1] })],
  [/^amount "(.*)" has more decimals than (\w+) has \((\d+)\)$/, (m) => translate('bankFile.tooManyDecimals', { value: m[1], currency: m[2], digits: m[3] })],
  [/^amount "(.*)" is too large$/, (m) => translate('bankFile.amountTooLarge', { value: m[1] })],
  [/^amount "(.*)" has more than one decimal mark '(.)'$/, (m) => translate('bankFile.twoMarks', { value: m[1], mark: m[2] })],
  [/^amount "(.*)" has '(.)' out of place \(the decimal mark is '(.)'\)$/, (m) => translate('bankFile.groupOutOfPlace', { value: m[1], group: m[2], mark: m[3] })],
  [/^the statement is in (\w+), but the school's currency is (\w+)$/, (m) => translate('bankFile.wrongCurrency', { found: m[1], expected: m[2] })],
  [/^the CSV is empty \(no header row\)$/, () => translate('bankFile.emptyCsv')],
  [/^the statement has more than (\d+) (?:lines|entries|transactions); split it$/, (m) => translate('bankFile.tooManyLines', { count: m[1] })],
  [/^this is not a CAMT\.053 statement/, () => translate('bankFile.notCamt')],
  [/^this is not an OFX statement/, () => translate('bankFile.notOfx')],
  [/^the amounts mix '\.' and ',' as the decimal mark: line (\d+) "(.*)" and line (\d+) "(.*)"$/, (m) => translate('bankFile.mixedMarks', { line: m[1], value: m[2], otherLine: m[3], other: m[4] })],
  // An OFX or CAMT.053 entry's amount: the same reasons as a CSV amount.
  [/^(?:STMTTRN TRNAMT|Ntry Amt) (".*)$/, (m) => byRules(STATEMENT_RULES, `amount ${m[1]}`)],
  [/^(STMTTRN DTPOSTED|Ntry BookgDt) is missing$/, (m) => translate('bankFile.noDate', { element: m[1] })],
  [/^(STMTTRN DTPOSTED|Ntry BookgDt) "(.*)" is not a date$/, (m) => translate('bankFile.badDate', { element: m[1], value: m[2] })],
  [/^Ntry has no Amt$/, () => translate('bankFile.noAmount')],
  [/^Ntry CdtDbtInd is "(.*)", not CRDT or DBIT$/, (m) => translate('bankFile.camtDirection', { value: m[1] })],
  [/^the CAMT\.053 document has no Stmt element$/, () => translate('bankFile.camtNoStatement')],
  [/^the OFX has an unterminated comment or processing instruction$/, () => translate('bankFile.ofxComment')],
  [/^the OFX has a malformed tag "(.*)"$/, (m) => translate('bankFile.ofxBadTag', { tag: m[1] })],
  [/^the OFX has text "(.*)" where an element was expected$/s, (m) => translate('bankFile.ofxStrayText', { text: m[1] })],
  [/^the OFX closes <\/(.*?)> but no element is open$/, (m) => translate('bankFile.ofxCloseNothing', { tag: m[1] })],
  [/^the OFX closes <\/(.*?)> but <(.*?)> \(line (\d+)\) is open$/, (m) => translate('bankFile.ofxCloseOther', { tag: m[1], open: m[2], line: m[3] })],
  [/^the OFX never closes <(.*)>$/, (m) => translate('bankFile.ofxNeverCloses', { tag: m[1] })],
  [/^the OFX has no bank or credit-card statement/, () => translate('bankFile.ofxNoStatement')],
  [/^the OFX statement has no CURDEF$/, () => translate('bankFile.ofxNoCurrency')],
  [/^the (OFX|CAMT\.053) statement declares a DOCTYPE or ENTITY/, (m) => translate('bankFile.doctype', { format: m[1] })],
  // The XML parser's and the CSV parser's own reasons stay as they wrote them.
  [/^the (OFX|CAMT\.053) statement is not well-formed XML: (.*)$/s, (m) => translate('bankFile.notWellFormed', { format: m[1], reason: m[2] })],
  [/^the CSV is malformed: (.*)$/s, (m) => translate('bankFile.csvMalformed', { reason: m[1] })],
  [/^the statement file is empty$/, () => translate('bankFile.emptyFile')],
];

/** How reconciliation.service.ts starts the detail of a statement it cannot read. */
const STATEMENT_PREFIX = 'the statement cannot be read: ';

/** "the statement cannot be read: line 3: amount "x" is not an amount" in the reader's language; null when its message is not known. */
function statementSentence(detail: string): string | null {
  const parts = /^the statement cannot be read: (?:line (\d+): )?(.*?)( \(read by the school’s saved CSV mapping, [^)]*\))?$/s.exec(detail);
  if (parts === null) {
    return null;
  }
  const [, line, message = '', byMapping] = parts;
  const words = byRules(STATEMENT_RULES, message);
  if (words === null) {
    return null;
  }
  const where = line === undefined ? '' : translate('bankFile.line', { line });
  return translate('bankFile.cannotRead', { where, message: words }) + (byMapping ? translate('bankFile.byMapping') : '');
}

/** One detail of the API, in the reader's language; null when this does not know it. */
export function detailSentence(detail: string | undefined): string | null {
  if (detail === undefined) {
    return null;
  }
  return detail.startsWith(STATEMENT_PREFIX) ? statementSentence(detail) : byRules(DETAIL_RULES, detail);
}

/** The API's field messages this knows, each with its words; `money` writes an amount the message carries (minor units). */
const FIELD_RULES: Rule<[money: (minor: string) => string]>[] = [
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
  [/^must NOT have fewer than (\d+) items$/, (m) => translate('fieldError.minItems', { limit: m[1] })],
  [/^must NOT have more than (\d+) items$/, (m) => translate('fieldError.maxItems', { limit: m[1] })],
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
  [/^must not be before \w+ \((\d{4}-\d{2}-\d{2})\)$/, (m) => translate('fieldError.notBeforeField', { limit: m[1] })],
  [/^(?:is not a guardian of (?:this|the student’s) family)$/, () => translate('fieldError.notFamilyGuardian')],
  [/^this guardian is already a payer of this enrolment$/, () => translate('fieldError.alreadyPayer')],
  [/^the student has no family, so no guardian can pay$/, () => translate('fieldError.noFamilyNoPayer')],
  [/^shares must sum to 1 .*they sum to (\S+)$/, (m) => translate('fieldError.sharesSum', { sum: m[1] })],
  [/^(\S+) is outside the (?:plan's )?academic year/, (m) => translate('fieldError.outsideYear', { date: m[1] })],
  [/^(\S+) is not a calendar date/, (m) => translate('fieldError.notCalendarDate', { date: m[1] })],
  [/^a schedule needs at least one due date$/, () => translate('fieldError.scheduleEmpty')],
  [/^the last instalment \((\S+)\) falls after the academic year ends \((\S+)\)$/, (m) => translate('fieldError.lastAfterYear', { date: m[1], end: m[2] })],
  [/^count must be a whole number from 1 to (\d+)$/, (m) => translate('fieldError.countRange', { limit: m[1] })],
  [/^(\S+) is listed twice$/, (m) => translate('fieldError.listedTwice', { code: m[1] })],
  [/^(\S+) is not optional in this plan/, (m) => translate('fieldError.notOptional', { code: m[1] })],
  [/^(\S+) is not an item of this plan$/, (m) => translate('fieldError.notAnItem', { code: m[1] })],
  [/^(\S+) is already the code of items\.\d+$/, (m) => translate('fieldError.codeTaken', { code: m[1] })],
  [/^(\S+) has billed instalments \((.+)\) and cannot be removed$/, (m) => translate('fieldError.itemBilled', { code: m[1], dates: m[2] })],
  [/^(\S+) must keep its billed due dates \((.+)\)$/, (m) => translate('fieldError.keepBilledDates', { code: m[1], dates: m[2] })],
  [/^is not a student of the plan’s school$/, () => translate('fieldError.notPlanSchool')],
  [/^is not a family of the student’s school$/, () => translate('fieldError.notStudentSchoolFamily')],
  [/^the family already has (\d+) students/, (m) => translate('fieldError.familyStudentsFull', { count: m[1] })],
  [/^must be a positive amount of minor units$|^must be a positive integer \(minor units\)$/, () => translate('fieldError.positiveAmount')],
  [/^is not an invoice of this family$/, () => translate('fieldError.notFamilyInvoice')],
  [/^must look like ABC-000123-4/, () => translate('fieldError.referenceShape')],
  [/^has a wrong check digit/, () => translate('fieldError.referenceCheckDigit')],
  [/^no such school \(or not one of yours\)$/, () => translate('fieldError.noSuchSchool')],
  [/^student is not active$/, () => translate('fieldError.studentInactive')],
];

/** One field message of the API, in the reader's language; `currency` formats the amounts some of them carry. */
export function fieldMessage(message: string, currency?: string): string {
  const money = (minor: string) => (currency === undefined ? Number(minor).toLocaleString() : formatMoney(Number(minor), currency));
  return byRules(FIELD_RULES, message, money) ?? message;
}

/**
 * A refusal in one line, for a form that shows it above its button: the sentence for its
 * code or detail (or, when only its fields say what is wrong, "Some fields need
 * correcting"), then each field the API named with its message translated.
 */
export function refusalText(error: ApiError): string {
  const fields = error.problem.errors ?? [];
  const sentence = problemSentence(error) ?? (fields.length > 0 ? translate('problem.VALIDATION_FAILED') : error.message);
  return fields.length > 0 ? `${sentence} (${fields.map((e) => `${e.field}: ${fieldMessage(e.message)}`).join('; ')})` : sentence;
}
