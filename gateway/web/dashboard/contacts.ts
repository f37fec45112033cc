/**
 * Who the visitors are: contacts read once each (`GET /v1/contacts/{id}`) and kept for the
 * session, so that lists and headers can name them. Asking again for a contact known or on
 * its way sends nothing; a contact that could not be read is not asked for again.
 */

export interface Contact {
  id: string;
  external_id: string | null;
  name: string | null;
  email: string | null;
  metadata: Record<string, unknown>;
  created_at: string;
  widget_id: string | null;
}

export class Contacts {
  private readonly known = new Map<string, Contact>();
  private readonly asked = new Set<string>();

  constructor(
    private readonly read: (id: string) => Promise<Contact>,
    private readonly onChange: () => void,
  ) {}

  get(id: string | null | undefined): Contact | undefined {
    return id ? this.known.get(id) : undefined;
  }

  /** The contact's name, when it has one and it has been read. */
  nameOf(id: string | null | undefined): string | null {
    return this.get(id)?.name || null;
  }

  /** Read the contacts of `ids` not read or asked for yet; `onChange` when each arrives. */
  want(ids: Iterable<string | null | undefined>): void {
    for (const id of ids) {
      if (!id || this.asked.has(id)) continue;
      this.asked.add(id);
      this.read(id).then(
        (contact) => {
          this.known.set(id, contact);
          this.onChange();
        },
        () => undefined, // not readable (gone, or not ours): the views say "Visitor"
      );
    }
  }
}
