/** Gateway account balances and payouts (features/accounts). */
const en = {
  accounts: {
    title: 'Accounts',
    subtitle: 'Balances from the payment gateway’s account feed, synced exactly once.',
    subtitleNoCurrency:
      'Balances from the payment gateway’s account feed, synced exactly once. The feed does not say which currency its accounts are in: amounts are its minor units shown with two decimals.',
    balances: 'Balances',
    balancesIn: 'Balances ({{currency}})',
    balancesNoCurrency: 'Balances (currency not given by the feed)',
    empty: 'No accounts yet: the gateway sync has not stored any entries.',
    table: 'Account balances',
    account: 'Account',
    balance: 'Balance',
    earned: 'Earned',
    spent: 'Spent',
    paidOut: 'Paid out',
    outstandingPayouts: 'Outstanding payouts',
    noun: 'accounts',
    payouts: 'Payouts',
    payoutsOf: 'Payouts · {{account}}',
    choose: 'Choose an account to see its payouts.',
    requested: 'Requested',
    outstanding: 'Outstanding',
    summary: 'Balance {{balance}} · {{entries}} entries · updated {{at}} ({{zone}})',
    noPayouts: 'No payout requests for this account.',
    entriesTable: 'Payout entries',
    when: 'When',
    amount: 'Amount',
    kind: 'Kind',
    entry: 'Entry',
    entriesNoun: 'entries',
  },
};

type Strings = typeof en;

const es: Strings = {
  accounts: {
    title: 'Cuentas',
    subtitle: 'Saldos del registro de cuentas de la pasarela de pagos, sincronizados una sola vez.',
    subtitleNoCurrency:
      'Saldos del registro de cuentas de la pasarela de pagos, sincronizados una sola vez. El registro no indica la moneda de sus cuentas: los montos son sus unidades menores mostradas con dos decimales.',
    balances: 'Saldos',
    balancesIn: 'Saldos ({{currency}})',
    balancesNoCurrency: 'Saldos (el registro no indica la moneda)',
    empty: 'Todavía no hay cuentas: la sincronización con la pasarela no ha guardado movimientos.',
    table: 'Saldos de las cuentas',
    account: 'Cuenta',
    balance: 'Saldo',
    earned: 'Ingresos',
    spent: 'Gastos',
    paidOut: 'Liquidado',
    outstandingPayouts: 'Liquidaciones pendientes',
    noun: 'cuentas',
    payouts: 'Liquidaciones',
    payoutsOf: 'Liquidaciones · {{account}}',
    choose: 'Elija una cuenta para ver sus liquidaciones.',
    requested: 'Solicitado',
    outstanding: 'Pendiente',
    summary: 'Saldo {{balance}} · {{entries}} movimientos · actualizado el {{at}} ({{zone}})',
    noPayouts: 'Esta cuenta no tiene solicitudes de liquidación.',
    entriesTable: 'Movimientos de liquidación',
    when: 'Fecha',
    amount: 'Monto',
    kind: 'Tipo',
    entry: 'Movimiento',
    entriesNoun: 'movimientos',
  },
};

export const accounts = { en, es };
