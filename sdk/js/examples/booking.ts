import { Favcrm, FavcrmError } from "@favcrm/sdk";

const fav = new Favcrm({ baseUrl: process.env.FAVCRM_URL ?? "http://127.0.0.1:8080", apiKey: process.env.FAVCRM_KEY });

const staff = await fav.createStaff({ name: "Sam" });
const hours = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: "09:00", end: "17:00" }));
await fav.setWorkingHours({ staffId: staff.id, hours });
const service = await fav.createService({ name: "Cut", durationMinutes: 60, price: { amount: 45000 }, staffIds: [staff.id] });
const { slots } = await fav.getAvailableSlots({ serviceId: service.id });
const start = slots[0]!.start;
try {
  const customer = { name: "Amy Chan", email: "amy@example.com" };
  const booking = await fav.createBooking({ serviceId: service.id, start, customer });
  console.log(`Booked ${booking.id} for ${booking.startsAt} (${booking.status})`);
} catch (error) {
  if (!(error instanceof FavcrmError) || error.code !== "slot_taken") throw error;
  console.log("Just taken; open slots nearby:", error.problem.nearbySlots);
}
