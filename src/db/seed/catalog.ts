import type { PaymentMethod } from '../types.js';
import { Weighted } from './random.js';

/** The vocabulary of the generated data set: regions, names, methods, failures. */
export interface Region {
  currency: string;
  timezone: string;
  /** Standard UTC offset in hours (DST ignored: only used to place times in local business hours). */
  utcOffset: number;
  /** Monthly tuition for grade 1, in major units: [min, max]. */
  fee: readonly [number, number];
  /** Fees are rounded to this many major units. */
  round: number;
  gateways: readonly string[];
  phone: string;
  spanish: boolean;
  city: string;
}

export const REGIONS = new Weighted<Region>([
  [{ currency: 'MXN', timezone: 'America/Mexico_City', utcOffset: -6, fee: [2_500, 9_500], round: 50, gateways: ['conekta', 'openpay', 'stripe'], phone: '+52 55', spanish: true, city: 'Ciudad de México' }, 40],
  [{ currency: 'MXN', timezone: 'America/Monterrey', utcOffset: -6, fee: [2_800, 10_500], round: 50, gateways: ['conekta', 'stripe', 'openpay'], phone: '+52 81', spanish: true, city: 'Monterrey' }, 9],
  [{ currency: 'MXN', timezone: 'America/Tijuana', utcOffset: -8, fee: [2_500, 8_000], round: 50, gateways: ['openpay', 'conekta'], phone: '+52 664', spanish: true, city: 'Tijuana' }, 4],
  [{ currency: 'COP', timezone: 'America/Bogota', utcOffset: -5, fee: [450_000, 1_900_000], round: 5_000, gateways: ['payu', 'stripe', 'adyen'], phone: '+57 601', spanish: true, city: 'Bogotá' }, 15],
  [{ currency: 'PEN', timezone: 'America/Lima', utcOffset: -5, fee: [650, 2_200], round: 10, gateways: ['adyen', 'stripe'], phone: '+51 1', spanish: true, city: 'Lima' }, 5],
  [{ currency: 'USD', timezone: 'America/New_York', utcOffset: -5, fee: [950, 2_600], round: 5, gateways: ['stripe', 'adyen'], phone: '+1 212', spanish: false, city: 'New York' }, 9],
  [{ currency: 'USD', timezone: 'America/Chicago', utcOffset: -6, fee: [800, 2_200], round: 5, gateways: ['stripe', 'adyen'], phone: '+1 312', spanish: false, city: 'Chicago' }, 4],
  [{ currency: 'USD', timezone: 'America/Los_Angeles', utcOffset: -8, fee: [1_000, 2_900], round: 5, gateways: ['stripe'], phone: '+1 213', spanish: false, city: 'Los Angeles' }, 4],
  [{ currency: 'EUR', timezone: 'Europe/Madrid', utcOffset: 1, fee: [350, 1_100], round: 5, gateways: ['adyen', 'stripe'], phone: '+34 91', spanish: true, city: 'Madrid' }, 3],
]);

export const SCHOOL_KINDS_ES = ['Colegio', 'Instituto', 'Liceo', 'Escuela', 'Centro Escolar', 'Academia'] as const;
export const SCHOOL_KINDS_EN = ['Academy', 'School', 'Preparatory School', 'Bilingual School', 'Day School'] as const;
export const SCHOOL_PATRONS = [
  'Miraflores', 'Andino', 'Lincoln', 'San Ángel', 'Cervantes', 'Montessori', 'del Valle', 'Santa Fe', 'Juárez',
  'Bolívar', 'Humboldt', 'Franklin', 'Roosevelt', 'Los Pinos', 'La Salle', 'Newton', 'Da Vinci', 'Tecnológico',
  'Americano', 'Británico', 'Alemán', 'Sor Juana', 'Hidalgo', 'Morelos', 'Nuevo Mundo', 'Everest', 'Kennedy', 'Oxford',
] as const;

export const FIRST_NAMES = [
  'Sofía', 'Mateo', 'Valentina', 'Santiago', 'Camila', 'Sebastián', 'Isabella', 'Diego', 'Emma', 'Liam', 'Olivia',
  'Lucas', 'Mía', 'Nicolás', 'Renata', 'Tomás', 'Regina', 'Emiliano', 'Ximena', 'Leonardo', 'Victoria', 'Daniel',
  'Mariana', 'Gabriel', 'Lucía', 'Samuel', 'Martina', 'Alejandro', 'Ava', 'Noah', 'Sophia', 'Ethan', 'Mia', 'James',
  'Charlotte', 'Benjamin', 'Amelia', 'Elijah', 'Harper', 'Julián', 'Paula', 'Andrés', 'Daniela', 'Joaquín',
] as const;
export const LAST_NAMES = [
  'García', 'Rodríguez', 'Martínez', 'López', 'Hernández', 'Pérez', 'González', 'Sánchez', 'Ramírez', 'Torres',
  'Flores', 'Rivera', 'Gómez', 'Díaz', 'Cruz', 'Morales', 'Reyes', 'Jiménez', 'Ruiz', 'Vargas', 'Castro', 'Rojas',
  'Mendoza', 'Ortiz', 'Silva', 'Romero', 'Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Miller', 'Davis',
  'Wilson', 'Anderson', 'Taylor', 'Moore', 'Clark', 'Lewis', 'Walker', 'Young', 'King',
] as const;

export const GRADES = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12'] as const;

export type Behaviour = 'on_time' | 'late' | 'partial' | 'never';
export const BEHAVIOURS: readonly Behaviour[] = ['on_time', 'late', 'partial', 'never'];
/** Index into BEHAVIOURS; stored per student in typed arrays. */
export const BEHAVIOUR_WEIGHTS = new Weighted<number>([
  [0, 60],
  [1, 20],
  [2, 10],
  [3, 10],
]);

export const METHODS: readonly PaymentMethod[] = ['card', 'bank_transfer', 'cash', 'cash_voucher', 'direct_debit', 'wallet'];
/** A family's usual way of paying. */
export const METHOD_WEIGHTS = new Weighted<PaymentMethod>([
  ['card', 34],
  ['bank_transfer', 26],
  ['cash', 7],
  ['cash_voucher', 12],
  ['direct_debit', 13],
  ['wallet', 8],
]);
/** Failed attempts happen at gateways: mostly cards. */
export const FAILED_METHOD_WEIGHTS = new Weighted<PaymentMethod>([
  ['card', 72],
  ['direct_debit', 11],
  ['wallet', 9],
  ['bank_transfer', 5],
  ['cash_voucher', 3],
]);

type Failure = readonly [code: string, message: string];
export const CARD_FAILURES = new Weighted<Failure>([
  [['card_declined', 'The card was declined by the issuer'], 30],
  [['insufficient_funds', 'Insufficient funds'], 22],
  [['do_not_honor', 'The issuer declined the payment (do not honor)'], 10],
  [['expired_card', 'The card has expired'], 8],
  [['processing_error', 'The gateway could not process the payment'], 8],
  [['incorrect_cvc', 'The card security code is incorrect'], 6],
  [['authentication_required', '3-D Secure authentication failed or was abandoned'], 5],
  [['timeout', 'The gateway did not answer in time'], 5],
  [['fraud_suspected', 'The payment was blocked as suspected fraud'], 4],
  [['rate_limited', 'Too many attempts with this card; try again later'], 2],
]);
export const DEBIT_FAILURES = new Weighted<Failure>([
  [['insufficient_funds', 'Insufficient funds'], 55],
  [['account_closed', 'The bank account is closed'], 15],
  [['mandate_revoked', 'The direct debit mandate was revoked by the payer'], 15],
  [['processing_error', 'The bank could not process the debit'], 10],
  [['timeout', 'The bank did not answer in time'], 5],
]);
export const TRANSFER_FAILURES = new Weighted<Failure>([
  [['invalid_account', 'The beneficiary account number is invalid'], 40],
  [['processing_error', 'The bank could not process the transfer'], 35],
  [['timeout', 'The bank did not answer in time'], 25],
]);
export const VOUCHER_FAILURES = new Weighted<Failure>([[['voucher_expired', 'The payment voucher expired before it was paid'], 1]]);

export const REFUND_REASONS = [
  'Duplicate charge',
  'Overpayment',
  'Student withdrew',
  'Scholarship applied retroactively',
  'Billing error',
  'Chargeback settled in favour of the family',
] as const;

/** Adults (guardians): first names of parents' generation. */
export const GUARDIAN_FIRST_NAMES = [
  'María', 'José', 'Ana', 'Luis', 'Carmen', 'Jorge', 'Laura', 'Carlos', 'Patricia', 'Miguel', 'Gabriela', 'Fernando',
  'Adriana', 'Ricardo', 'Claudia', 'Javier', 'Verónica', 'Roberto', 'Mónica', 'Eduardo', 'Jennifer', 'Michael',
  'Jessica', 'David', 'Sarah', 'Robert', 'Emily', 'John', 'Ashley', 'Chris',
] as const;

/**
 * Family sizes (students of one school per family): mostly only children, a third with a
 * sibling, a few larger families — about 1.6 students per family.
 */
export const FAMILY_SIZE_WEIGHTS = new Weighted<number>([
  [1, 56],
  [2, 30],
  [3, 11],
  [4, 3],
]);

/** The fee plan's item names, per language. */
export const ITEM_NAMES = {
  es: { tuition: 'Colegiatura', enrolment: 'Inscripción', transport: 'Transporte escolar', plan: 'Plan de pagos' },
  en: { tuition: 'Tuition', enrolment: 'Enrolment fee', transport: 'School transport', plan: 'Fee plan' },
} as const;

/** Discount rules every seeded school has (sibling: automatic; scholarships: by award). */
export const RULE_NAMES = {
  es: { sibling: 'Descuento por hermanos', merit: 'Beca de excelencia académica', sports: 'Beca deportiva' },
  en: { sibling: 'Sibling discount', merit: 'Academic merit scholarship', sports: 'Sports scholarship' },
} as const;

export const AWARD_REASONS = {
  es: ['Promedio superior a 9.5 el ciclo anterior', 'Estudio socioeconómico aprobado por el comité de becas', 'Selección estatal de atletismo', 'Convenio con la asociación de padres'],
  en: ['Top of the class last year', 'Financial aid committee approval', 'State athletics team', 'Parent association agreement'],
} as const;
