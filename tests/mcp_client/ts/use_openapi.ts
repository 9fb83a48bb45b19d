// Code a newcomer would write against types generated from tests/openapi.json by
// openapi-typescript; the test compiles it with tsc --strict (tests/it/mcp_client.rs).
import type { components, paths } from "./favcrm";

type Booking = components["schemas"]["Booking"];
type Problem = components["schemas"]["Problem"];
type CreateBooking = paths["/v1/bookings"]["post"]["requestBody"] extends infer B
  ? B extends { content: { "application/json": infer J } } ? J : never
  : never;
type Refused = paths["/v1/bookings"]["post"]["responses"][409]["content"]["application/problem+json"];
type Confirm = paths["/v1/bookings/{bookingId}/cancel"]["post"]["responses"][428]["content"]["application/problem+json"];
type Slots = paths["/v1/services/{serviceId}/slots"]["get"]["responses"][200]["content"]["application/json"];

export const request: CreateBooking = {
  serviceId: "0192f5e4-8c1a-7b3e-9d2f-5a6b7c8d9e0f",
  start: "2027-01-04T09:00:00Z",
  customer: { name: "Amy Chan", email: "amy@example.com" },
};

export function describe(booking: Booking): string {
  return `${booking.service?.name ?? booking.serviceId} with ${booking.staff?.name ?? booking.staffId} at ${booking.startsAt}`;
}

export function alternatives(problem: Refused): string[] {
  return (problem.nearbySlots ?? []).map((slot) => slot.start ?? "");
}

export function token(problem: Confirm): string | undefined {
  const effect = problem.preview?.effect;
  return effect === undefined ? undefined : problem.confirmationToken;
}

export function why(slots: Slots): string {
  return slots.reason ?? `${slots.slots.length} open`;
}

export function code(problem: Problem): string {
  return `${problem.status} ${problem.code}: ${problem.errors?.map((e) => e.field).join(", ") ?? ""}`;
}
