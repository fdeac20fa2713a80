/** The History card of the school, student, family and invoice pages (features/audit). */
const en = {
  history: {
    title: 'History',
    empty: 'Nothing recorded yet.',
    system: 'System',
    noun_one: 'entry',
    noun_other: 'entries',
    showChanges: 'The whole record',
    request: 'Request {{id}}',
    fields: { number: 'number', amount: 'amount', method: 'method', reason: 'reason', description: 'description', status: 'status', name: 'name', dueDate: 'due', earlyPaymentDiscount: 'early-payment discount' },
    actions: {
      school_create: 'School created',
      school_update: 'School changed',
      school_delete: 'School deleted',
      student_create: 'Student added',
      student_update: 'Student changed',
      student_delete: 'Student removed',
      family_create: 'Family created',
      family_update: 'Family changed',
      family_delete: 'Family deleted',
      invoice_create: 'Invoice created',
      invoice_update: 'Invoice changed',
      invoice_cancel: 'Invoice cancelled',
      invoice_waiver: 'Late fee waived',
      invoice_pay_link: 'Pay link made',
      invoice_credit_note: 'Credit note',
      invoice_write_off: 'Written off',
      collections_run: 'Daily collections run',
      late_fee_policy_put: 'Late-fee policy set',
      reminder_policy_put: 'Reminder policy set',
      family_credit_apply: 'Family credit applied',
    },
  },
};

type Strings = typeof en;

const es: Strings = {
  history: {
    title: 'Historial',
    empty: 'Aún no hay nada registrado.',
    system: 'Sistema',
    noun_one: 'registro',
    noun_other: 'registros',
    showChanges: 'El registro completo',
    request: 'Solicitud {{id}}',
    fields: { number: 'número', amount: 'monto', method: 'método', reason: 'motivo', description: 'concepto', status: 'estado', name: 'nombre', dueDate: 'vence', earlyPaymentDiscount: 'descuento por pronto pago' },
    actions: {
      school_create: 'Escuela creada',
      school_update: 'Escuela modificada',
      school_delete: 'Escuela eliminada',
      student_create: 'Alumno agregado',
      student_update: 'Alumno modificado',
      student_delete: 'Alumno dado de baja',
      family_create: 'Familia creada',
      family_update: 'Familia modificada',
      family_delete: 'Familia eliminada',
      invoice_create: 'Factura creada',
      invoice_update: 'Factura modificada',
      invoice_cancel: 'Factura cancelada',
      invoice_waiver: 'Recargo condonado',
      invoice_pay_link: 'Enlace de pago generado',
      invoice_credit_note: 'Nota de crédito',
      invoice_write_off: 'Castigada',
      collections_run: 'Cobranza del día',
      late_fee_policy_put: 'Política de recargos definida',
      reminder_policy_put: 'Política de recordatorios definida',
      family_credit_apply: 'Saldo a favor aplicado',
    },
  },
};

export const audit = { en, es };
