/** Why a typed amount is refused (lib/amount.ts returns a code and these values; amountErrorText writes it). */
const en = {
  amountError: {
    empty: 'Enter an amount.',
    negative: 'Enter a positive amount: a refund is recorded on the payment.',
    notAmount: '“{{shown}}” is not an amount.',
    notDigits: '“{{shown}}” is not an amount: use digits, with “.” or “,” for decimals.',
    spaceGroups: '“{{shown}}” has its digit groups in the wrong places.',
    twoDecimalSeparators: '“{{shown}}” has more than one decimal separator.',
    ambiguous: '“{{shown}}” is ambiguous in {{currency}} ({{whole}} or {{decimal}}?): write {{whole}} or {{asFraction}}.',
    groupedFraction: '“{{shown}}” has digits grouped after the decimal separator.',
    thousandsGroups: '“{{shown}}” has its thousands separators in the wrong places.',
    noDecimals: '{{currency}} amounts have no decimals: “{{shown}}”.',
    tooManyDecimals: '{{currency}} amounts have at most {{decimals}} decimals: “{{shown}}”.',
    tooLarge: '“{{shown}}” is too large.',
  },
};

type Strings = typeof en;

const es: Strings = {
  amountError: {
    empty: 'Escriba un monto.',
    negative: 'Escriba un monto positivo: las devoluciones se registran en el pago.',
    notAmount: '“{{shown}}” no es un monto.',
    notDigits: '“{{shown}}” no es un monto: use dígitos, con “.” o “,” para los decimales.',
    spaceGroups: '“{{shown}}” tiene los grupos de dígitos en lugares incorrectos.',
    twoDecimalSeparators: '“{{shown}}” tiene más de un separador decimal.',
    ambiguous: '“{{shown}}” es ambiguo en {{currency}} (¿{{whole}} o {{decimal}}?): escriba {{whole}} o {{asFraction}}.',
    groupedFraction: '“{{shown}}” tiene dígitos agrupados después del separador decimal.',
    thousandsGroups: '“{{shown}}” tiene los separadores de miles en lugares incorrectos.',
    noDecimals: 'Los montos en {{currency}} no llevan decimales: “{{shown}}”.',
    tooManyDecimals: 'Los montos en {{currency}} llevan como máximo {{decimals}} decimales: “{{shown}}”.',
    tooLarge: '“{{shown}}” es demasiado grande.',
  },
};

export const amount = { en, es };
