/**
 * How a family payment is shared out (SPEC §7): the invoices in the order given (oldest
 * due date first, then id), each taking what it still owes until the money runs out;
 * what is left is family credit. Pure, so the rule is tested on its own.
 *
 * Σ allocations + credited = amount, and no invoice gets more than it owes.
 */
export function allocate(amount: number, invoices: readonly { id: string; open: number }[]): { allocations: { invoiceId: string; amount: number }[]; credited: number } {
  if (!Number.isSafeInteger(amount) || amount <= 0) {
    throw new RangeError(`not a positive amount of minor units: ${amount}`);
  }
  const allocations: { invoiceId: string; amount: number }[] = [];
  let left = amount;
  for (const invoice of invoices) {
    if (left === 0) {
      break;
    }
    const share = Math.min(left, invoice.open);
    if (share > 0) {
      allocations.push({ invoiceId: invoice.id, amount: share });
      left -= share;
    }
  }
  return { allocations, credited: left };
}
