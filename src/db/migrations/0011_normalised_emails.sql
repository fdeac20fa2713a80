-- 0011_normalised_emails: e-mail addresses are stored trimmed and in lower case.
--
-- An address typed as `User@Example.COM` and one typed as `user@example.com` reach the
-- same mailbox, and a bursar searching, de-duplicating or exporting them expects one
-- person, not two. Bursar treats the whole address case-insensitively (strictly only
-- the domain is, but no mail provider a school's families use distinguishes case in
-- the local part), so every e-mail column holds the normalised form: the API trims and
-- lower-cases on write (src/shared/email.ts and the `x-normalise` schema keyword), and
-- these checks make the database refuse anything else, whoever writes it.
--
-- No e-mail column is unique today; a future unique index should be on the column
-- itself, which this normal form already makes case-insensitive.
--
-- Existing rows are normalised first; an address that was only blanks becomes null.
-- The checks are named <table>_email_check_<what> so the error handler names the field
-- `email` (PostgreSQL already used <table>_email_check for the length check of 0001).

update schools
   set email = nullif(lower(btrim(email)), '')
 where email is distinct from nullif(lower(btrim(email)), '');

update students
   set email = nullif(lower(btrim(email)), '')
 where email is distinct from nullif(lower(btrim(email)), '');

alter table schools add constraint schools_email_check_normalised check (email = lower(btrim(email)) and email <> '');
alter table students add constraint students_email_check_normalised check (email = lower(btrim(email)) and email <> '');
