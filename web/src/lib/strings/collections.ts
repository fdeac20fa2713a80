/** The outbox and the message lists (features/collections, without the late-fee and reminder cards). */
const en = {
  outbox: {
    title: 'Outbox',
    subtitle: 'Reminders that no mail or SMS server has sent: with no channel configured, messages wait here so none is lost.',
    school: 'School',
    allSchools: 'All my schools',
    waiting: 'Waiting in the outbox',
  },
  messages: {
    channel: { email: 'E-mail', sms: 'SMS', whatsapp: 'WhatsApp' },
    template: { upcoming: 'Upcoming payment', due: 'Due today', overdue: 'Overdue', final_notice: 'Final notice' },
    status: { queued: 'Sending', sent: 'Sent', failed: 'Failed', bounced: 'Bounced', outbox: 'In the outbox' },
    retrying: 'Retrying ({{count}} tried)',
    message: 'Message',
    invoice: 'Invoice',
    family: 'Family',
    show: 'Show the message',
    noun_one: 'message',
    noun_other: 'messages',
    emptyFamily: 'No reminder has gone to this family yet.',
    emptyInvoice: 'No reminder about this invoice yet.',
    emptyOutbox: 'The outbox is empty.',
  },
};

type Strings = typeof en;

const es: Strings = {
  outbox: {
    title: 'Mensajes',
    subtitle: 'Recordatorios que ningún servidor de correo o SMS ha enviado: sin canal configurado, los mensajes esperan aquí para que ninguno se pierda.',
    school: 'Escuela',
    allSchools: 'Todas mis escuelas',
    waiting: 'En espera de envío',
  },
  messages: {
    channel: { email: 'Correo', sms: 'SMS', whatsapp: 'WhatsApp' },
    template: { upcoming: 'Próximo pago', due: 'Vence hoy', overdue: 'Vencida', final_notice: 'Último aviso' },
    status: { queued: 'Enviando', sent: 'Enviado', failed: 'Falló', bounced: 'Rebotado', outbox: 'En espera' },
    retrying: 'Reintentando ({{count}} intentos)',
    message: 'Mensaje',
    invoice: 'Factura',
    family: 'Familia',
    show: 'Ver el mensaje',
    noun_one: 'mensaje',
    noun_other: 'mensajes',
    emptyFamily: 'Todavía no se ha enviado ningún recordatorio a esta familia.',
    emptyInvoice: 'Todavía no hay recordatorios de esta factura.',
    emptyOutbox: 'No hay mensajes en espera.',
  },
};

export const collections = { en, es };
