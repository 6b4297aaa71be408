/** A hand-written event map in the shape `hookline types generate` writes. */
export type InvoicePaid = {
  amountCents: number;
  id: string;
  note?: string | null;
};

export type UserCreated = {
  email: string;
  [key: string]: unknown;
};

export interface Events {
  "invoice.paid": InvoicePaid;
  "user.created": UserCreated;
  "cache.flushed": unknown;
}
