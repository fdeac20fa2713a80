import type { Scope } from '../../shared/scope.js';
import { studentName } from '../billing/students.repository.js';
import { fold } from './intents.js';

/**
 * The output guard of one request. Every student name that goes into an answer (or a
 * prompt) is presented through `name()`, which masks it per role and, for roles that
 * see PII masked, remembers the real first and last names. Generated text is then
 * checked against them, and, for roles limited to assigned schools, against the names
 * of every school outside the caller's scope: an LLM answer naming either is thrown away
 * and the rule engine answers instead. The rule engine's own text is safe by
 * construction (it only prints presented names and scoped rows).
 */
export class OutputGuard {
  private readonly terms = new Set<string>();
  private outside: string[] | null = null;

  constructor(
    private readonly scope: Scope,
    private readonly loadOutsideSchoolNames: () => Promise<string[]>,
  ) {}

  /** The name as the caller may see it; remembers the real one when it must stay hidden. */
  name(firstName: string, lastName: string): string {
    if (this.scope.pii === 'masked') {
      for (const part of [firstName, lastName, `${firstName} ${lastName}`]) {
        this.remember(part);
      }
    }
    return studentName(firstName, lastName, this.scope);
  }

  private remember(text: string) {
    const folded = fold(text).trim();
    if (folded.length >= 2) {
      this.terms.add(folded);
    }
    // Each word of a compound name ("De la Cruz" → "cruz"), skipping particles.
    const words = folded.split(/\s+/);
    if (words.length > 1) {
      for (const word of words) {
        if (word.length >= 3) {
          this.terms.add(word);
        }
      }
    }
  }

  /** The first forbidden term found in `text` (for logs, never for the caller), or null. */
  async violation(text: string): Promise<string | null> {
    const haystack = fold(text);
    const terms = [...this.terms];
    if (this.scope.schoolIds !== 'all') {
      this.outside ??= (await this.loadOutsideSchoolNames()).map((name) => fold(name).trim()).filter((name) => name.length >= 3);
      terms.push(...this.outside);
    }
    for (const term of terms) {
      const escaped = term.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      if (new RegExp(`(^|[^\\p{L}\\p{N}])${escaped}($|[^\\p{L}\\p{N}])`, 'u').test(haystack)) {
        return term;
      }
    }
    return null;
  }
}
