/**
 * A couple's first week with Tend, through the typed client a phone app would use.
 *
 *   npm run generate && npm run build
 *   node dist/first-week.js [base URL, default $TEND_URL or http://127.0.0.1:8000] [--json]
 *     [--mailbox=URL, default $TEND_MAILBOX_URL]
 *
 * Alex and Sam register and pair; both phones log bids for connection offline and sync
 * them later with ids the phones made, so a sync that is retried is harmless; each answers
 * the other's bids; they read their balance, history and stats, register their phones for
 * push, and let their coach Robin see their weekly progress once Robin has confirmed
 * their address; Sam forgets the password and gets back in with a reset link. Every
 * answer's status is checked: anything unexpected stops the walk with a message and exit
 * code 1.
 *
 * Mail: Tend mails links to `{TEND_APP_URL}/verify-email?token=…` and
 * `{TEND_APP_URL}/reset-password?token=…`; the phone app opens them (universal or app
 * links) and sends the token to the API. This walk reads them where a development mail
 * catcher shows them: `--mailbox` answers GET /messages with `[{to, subject, text}]`.
 */
import { randomUUID } from "node:crypto";

import createClient, { type Client } from "openapi-fetch";

import type { components, paths } from "./schema.js";

type Schemas = components["schemas"];
type Tend = Client<paths>;
type Problem = Schemas["Problem"];
type Bid = Schemas["BidPublic"];
type NewBid = Schemas["BidCreate"];

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
const PASSWORD = "a long passphrase for the first week";

const args = process.argv.slice(2);
const asJson = args.includes("--json");
const baseUrl = args.find((arg) => !arg.startsWith("--")) ?? process.env.TEND_URL ?? "http://127.0.0.1:8000";
const mailbox =
  args.find((arg) => arg.startsWith("--mailbox="))?.slice("--mailbox=".length) ?? process.env.TEND_MAILBOX_URL;

class UnexpectedAnswer extends Error {}

/** What openapi-fetch answers: the parsed body of a documented success, or of an error. */
type Answer<Data, Failure> =
  { data: Data; error?: never; response: Response } | { data?: never; error: Failure; response: Response };

function describe(step: string, expected: number, answer: { error?: unknown; response: Response }): string {
  const body = answer.error === undefined ? "" : ` ${JSON.stringify(answer.error)}`;
  return `${step}: expected ${expected}, got ${answer.response.status}${body}`;
}

/** The body of the answer, which must have the expected status. */
async function expectStatus<Data, Failure>(
  step: string,
  expected: number,
  call: Promise<Answer<Data, Failure>>,
): Promise<Data> {
  const answer = await call;
  if (answer.response.status !== expected || answer.data === undefined) {
    throw new UnexpectedAnswer(describe(step, expected, answer));
  }
  return answer.data;
}

/** An answer without a body (204), which must have the expected status. */
async function expectNoContent<Data, Failure>(
  step: string,
  expected: number,
  call: Promise<Answer<Data, Failure>>,
): Promise<void> {
  const answer = await call;
  if (answer.response.status !== expected || answer.error !== undefined) {
    throw new UnexpectedAnswer(describe(step, expected, answer));
  }
}

/** The problem document of a refusal, which must have the expected status. */
async function expectProblem<Data, Failure extends Problem>(
  step: string,
  expected: number,
  call: Promise<Answer<Data, Failure>>,
): Promise<Problem> {
  const answer = await call;
  if (answer.response.status !== expected || answer.error === undefined) {
    throw new UnexpectedAnswer(describe(step, expected, answer));
  }
  return answer.error;
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) {
    throw new UnexpectedAnswer(message);
  }
}

function say(line: string): void {
  if (!asJson) {
    console.log(line);
  }
}

/** An instant some days and hours before now, as RFC 3339 in UTC. */
function ago(days: number, hours = 0): string {
  return new Date(Date.now() - days * DAY - hours * HOUR).toISOString();
}

function signedIn(token: string): Tend {
  return createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });
}

type Mail = { to: string[]; subject: string; text: string };

/**
 * The token of the newest link to `page` mailed to `address`, as the phone app takes it
 * from the link it was opened with: `new URL(link).searchParams.get("token")`.
 */
async function mailedToken(address: string, page: "verify-email" | "reset-password"): Promise<string> {
  check(mailbox !== undefined, "this walk reads mailed links from a mail catcher: pass --mailbox=URL");
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const mails = (await (await fetch(`${mailbox}/messages`)).json()) as Mail[];
    const links = mails
      .filter((mail) => mail.to.includes(address))
      .flatMap((mail) => mail.text.match(/https?:\/\/\S+\?token=[A-Za-z0-9_-]+/g) ?? [])
      .map((link) => new URL(link))
      .filter((link) => link.pathname.endsWith(`/${page}`));
    const newest = links.at(-1)?.searchParams.get("token");
    if (newest) {
      return newest;
    }
    await new Promise((resolve) => setTimeout(resolve, 250)); // the worker sends mail every few seconds
  }
  throw new UnexpectedAnswer(`no ${page} link reached ${address} within 30 s`);
}

async function register(
  anonymous: Tend,
  displayName: string,
  role: Schemas["Role"] = "partner",
): Promise<{ client: Tend; user: Schemas["UserPublic"] }> {
  const registered = await expectStatus(
    `register ${displayName}`,
    201,
    anonymous.POST("/v1/auth/register", {
      body: {
        email: `${displayName.toLowerCase()}.${randomUUID()}@example.com`,
        password: PASSWORD,
        display_name: displayName,
        timezone: "Europe/Berlin",
        role,
      },
    }),
  );
  return { client: signedIn(registered.access_token), user: registered.user };
}

/** Every bid of the couple, newest first, following the cursor (small pages, to show it). */
async function allBids(client: Tend, who: string): Promise<Bid[]> {
  const bids: Bid[] = [];
  let cursor: string | null = null;
  do {
    const query = cursor === null ? { limit: 4 } : { limit: 4, cursor };
    const page: Schemas["BidPage"] = await expectStatus(
      `${who} lists bids`,
      200,
      client.GET("/v1/bids", { params: { query } }),
    );
    bids.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor !== null);
  return bids;
}

/** A bid as a phone keeps it while offline: with an id the phone made, so a resend is harmless. */
function offline(
  kind: NewBid["kind"],
  initiator: NewBid["initiator"],
  occurredAt: string,
  details: Pick<NewBid, "duration_seconds" | "note" | "response"> = {},
): NewBid {
  return { id: randomUUID(), kind, initiator, occurred_at: occurredAt, ...details };
}

/** Send what a phone logged while offline, once the connection is back. */
async function sync(client: Tend, who: string, queue: NewBid[]): Promise<void> {
  for (const bid of queue) {
    const stored = await expectStatus(
      `${who} syncs a ${bid.kind}`,
      201,
      client.POST("/v1/bids", { body: bid }),
    );
    check(stored.id === bid.id, `${who}'s ${bid.kind} was stored as ${stored.id}, not under the phone's id`);
  }
}

/** Turn toward (or away from) every bid the partner logged that waits for an answer. */
async function answerPartner(
  client: Tend,
  who: string,
  answerFor: (bid: Bid) => Schemas["Response"],
): Promise<number> {
  const waiting = (await allBids(client, who)).filter(
    (bid) => bid.logged_by === "partner" && bid.response === "pending",
  );
  for (const bid of waiting) {
    const response = answerFor(bid);
    const answered = await expectStatus(
      `${who} answers a ${bid.kind}`,
      200,
      client.PUT("/v1/bids/{bid_id}/response", {
        params: { path: { bid_id: bid.id } },
        body: { response },
      }),
    );
    check(
      answered.response === response && answered.responded_by === "me",
      `${who}'s answer to ${bid.id} was recorded as ${answered.response} by ${answered.responded_by}`,
    );
  }
  return waiting.length;
}

async function registerPhone(client: Tend, who: string): Promise<Schemas["DevicePublic"]> {
  const phone: Schemas["DeviceCreate"] = {
    provider: "expo",
    token: `ExponentPushToken[${randomUUID().replaceAll("-", "").slice(0, 22)}]`,
    platform: "ios",
  };
  const device = await expectStatus(
    `${who} registers a phone`,
    201,
    client.POST("/v1/me/devices", { body: phone }),
  );
  // The app registers its token at every start: the same token is the same device.
  const again = await expectStatus(
    `${who} registers the phone again`,
    200,
    client.POST("/v1/me/devices", { body: phone }),
  );
  check(again.id === device.id, `${who}'s phone was registered twice as two devices`);
  return device;
}

async function firstWeek(): Promise<void> {
  const anonymous = createClient<paths>({ baseUrl });

  // Day one: both install the app; Alex invites Sam.
  const alex = await register(anonymous, "Alex");
  const sam = await register(anonymous, "Sam");
  const invite = await expectStatus("Alex creates an invite", 201, alex.client.POST("/v1/couple/invites"));
  const couple = await expectStatus(
    "Sam joins with the code",
    201,
    sam.client.POST("/v1/couple/join", { body: { code: invite.code } }),
  );
  check(couple.partner.id === alex.user.id, `Sam was paired with ${couple.partner.display_name}, not Alex`);
  say(`Alex and Sam are a couple (${couple.id}), code ${invite.code}, time zone ${couple.timezone}`);

  const kinds = await expectStatus("list the kinds of bid", 200, anonymous.GET("/v1/bid-kinds"));
  const hug = kinds.find((kind) => kind.kind === "hug");
  check(
    hug !== undefined && hug.linger_seconds !== null,
    "the catalogue has no hug with a lingering threshold",
  );
  const longHug = hug.linger_seconds + 5; // held long enough to count half as much again

  // The week, as each phone logged it without a connection.
  const compliment = offline("compliment", "me", ago(1, 4));
  const alexsPhone: NewBid[] = [
    offline("hug", "me", ago(5, 2), { duration_seconds: longHug }),
    offline("question", "me", ago(4, 1), { note: "How did the interview go?" }),
    offline("phone_down", "partner", ago(3, 3), { response: "toward" }),
    offline("check_in", "me", ago(2, 5)),
    compliment,
  ];
  const samsPhone: NewBid[] = [
    offline("cuddle", "me", ago(5, 1), { response: "toward" }),
    offline("thanks", "me", ago(3, 2)),
    offline("shared_look", "partner", ago(2, 1), { response: "toward" }),
    offline("kiss", "me", ago(1, 2)),
    offline("laugh", "me", ago(0, 1)),
  ];
  await sync(alex.client, "Alex", alexsPhone);
  await sync(sam.client, "Sam", samsPhone);
  say(`synced ${alexsPhone.length} bids from Alex's phone and ${samsPhone.length} from Sam's`);

  // Alex's last sync request timed out, so the phone sends it again: a replay, stored once.
  const replayed = await expectStatus(
    "Alex's phone resends the compliment",
    200,
    alex.client.POST("/v1/bids", { body: compliment }),
  );
  check(replayed.id === compliment.id, `the replay answered bid ${replayed.id}`);

  // A buggy phone reuses an id for another bid: refused, and the stored bid is unchanged.
  const conflict = await expectProblem(
    "a different bid under a used id",
    409,
    alex.client.POST("/v1/bids", { body: { ...compliment, kind: "smile" } }),
  );
  const kept = await expectStatus(
    "read the bid back",
    200,
    alex.client.GET("/v1/bids/{bid_id}", { params: { path: { bid_id: replayed.id } } }),
  );
  check(kept.kind === compliment.kind, `the conflicting bid changed the stored one to ${kept.kind}`);
  say("a resent bid answered 200 and is stored once");
  say(`another bid under its id answered 409: ${conflict.detail ?? conflict.title}`);

  // Each partner answers what the other logged: Sam missed Alex's check-in.
  const samAnswered = await answerPartner(sam.client, "Sam", (bid) =>
    bid.kind === "check_in" ? "away" : "toward",
  );
  const alexAnswered = await answerPartner(alex.client, "Alex", () => "toward");
  say(`Sam answered ${samAnswered} of Alex's bids, Alex answered ${alexAnswered} of Sam's`);

  // How the week went.
  const balance = await expectStatus("read the balance", 200, alex.client.GET("/v1/couple/balance"));
  const history = await expectStatus(
    "read the balance history",
    200,
    alex.client.GET("/v1/couple/balance/history", { params: { query: { days: 7 } } }),
  );
  const stats = await expectStatus(
    "read the stats",
    200,
    sam.client.GET("/v1/couple/stats", { params: { query: { days: 7 } } }),
  );
  const logged = alexsPhone.length + samsPhone.length;
  check(stats.bids_total === logged, `stats count ${stats.bids_total} bids, the phones logged ${logged}`);
  check(stats.unanswered === 0, `${stats.unanswered} bids still wait for an answer`);
  check(history.points.length === 7, `the history has ${history.points.length} days, not 7`);
  check(balance.balance > 0, `the balance is ${balance.balance} after a good week`);

  // Push: both phones get nudges.
  await registerPhone(alex.client, "Alex");
  await registerPhone(sam.client, "Sam");

  // Their coach, Robin, sees their progress once both have said yes, and only a coach
  // whose address is confirmed can be let in: anyone can sign up as a coach.
  const robin = await register(anonymous, "Robin", "coach");
  check(!robin.user.email_verified, "a new account's address counts as confirmed before its link came back");
  const profile = await expectStatus(
    "Robin reads the coach code",
    200,
    robin.client.GET("/v1/coach/profile"),
  );
  const consent = { body: { coach_code: profile.code } };
  const unconfirmed = await expectProblem(
    "Alex tries to let Robin in before Robin confirmed the address",
    409,
    alex.client.POST("/v1/couple/coaches", consent),
  );
  say(`before Robin confirmed the address, consent answered 409: ${unconfirmed.detail ?? unconfirmed.title}`);
  // Robin taps the link in the registration mail; the app sends its token.
  await expectNoContent(
    "Robin confirms the address with the mailed link",
    204,
    anonymous.POST("/v1/auth/verify-email", { body: { token: await mailedToken(robin.user.email, "verify-email") } }),
  );
  const robinNow = await expectStatus("Robin reads the account", 200, robin.client.GET("/v1/me"));
  check(robinNow.email_verified, "Robin's address is still unconfirmed after the link");
  const afterAlex = await expectStatus(
    "Alex lets Robin in",
    201,
    alex.client.POST("/v1/couple/coaches", consent),
  );
  check(afterAlex.state === "waiting_for_partner", `after Alex's consent the state is ${afterAlex.state}`);
  await expectProblem(
    "Robin looks before Sam said yes",
    404,
    robin.client.GET("/v1/coach/couples/{couple_id}/progress", {
      params: { path: { couple_id: couple.id } },
    }),
  );
  const afterSam = await expectStatus(
    "Sam lets Robin in",
    201,
    sam.client.POST("/v1/couple/coaches", consent),
  );
  check(afterSam.state === "active", `after both consents the state is ${afterSam.state}`);

  const coached = await expectStatus("Robin lists the couples", 200, robin.client.GET("/v1/coach/couples"));
  check(
    coached.items.some((item) => item.couple_id === couple.id),
    "Robin's list does not show Alex and Sam",
  );
  const progress = await expectStatus(
    "Robin reads their progress",
    200,
    robin.client.GET("/v1/coach/couples/{couple_id}/progress", {
      params: { path: { couple_id: couple.id }, query: { weeks: 2 } },
    }),
  );
  const coachSees = progress.weeks.reduce((sum, week) => sum + week.bids, 0);
  check(coachSees === logged, `Robin sees ${coachSees} bids, the phones logged ${logged}`);
  const accessLog = await expectStatus(
    "Sam reads who looked",
    200,
    sam.client.GET("/v1/couple/coach-access-log"),
  );
  check(accessLog.items.length >= 2, `the access log shows ${accessLog.items.length} coach reads`);

  const bids = await allBids(alex.client, "Alex");
  check(bids.length === logged, `the couple has ${bids.length} bids, the phones logged ${logged}`);

  // Sam forgets the password. The app shows the 202's message whatever the address (the
  // answer never says whether an account has it), then opens the mailed link's page.
  const asked = await expectStatus(
    "Sam asks for a password reset",
    202,
    anonymous.POST("/v1/auth/password-reset", { body: { email: sam.user.email } }),
  );
  say(`password reset asked: ${asked.message}`);
  const resetToken = await mailedToken(sam.user.email, "reset-password");
  const newPassword = "a new passphrase after the first week";
  await expectProblem(
    "Sam picks too short a password",
    422,
    anonymous.POST("/v1/auth/password-reset/confirm", { body: { token: resetToken, password: "short" } }),
  );
  await expectNoContent(
    "Sam sets a new password with the link",
    204,
    anonymous.POST("/v1/auth/password-reset/confirm", { body: { token: resetToken, password: newPassword } }),
  );
  // Every sign-in ended, this phone's too: the app goes back to its sign-in screen.
  await expectProblem("Sam's old session", 401, sam.client.GET("/v1/me"));
  await expectProblem(
    "the reset link a second time",
    410,
    anonymous.POST("/v1/auth/password-reset/confirm", { body: { token: resetToken, password: newPassword } }),
  );
  const samAgain = await expectStatus(
    "Sam signs in with the new password",
    200,
    anonymous.POST("/v1/auth/login", { body: { email: sam.user.email, password: newPassword } }),
  );
  const samMe = await expectStatus("Sam reads the account", 200, signedIn(samAgain.access_token).GET("/v1/me"));
  say(`Sam is back in; the reset link also confirmed the address: ${samMe.email_verified}`);

  const percent = (rate: number | null): string => (rate === null ? "n/a" : `${Math.round(rate * 100)}%`);
  const summary = {
    couple_id: couple.id,
    bid_ids: bids.map((bid) => bid.id),
    balance: balance.balance,
    as_of: balance.as_of,
    toward_rate: stats.toward_rate,
    positive_negative_ratio: stats.positive_negative_ratio,
    streak_days: stats.streak_days,
    coach_bids_seen: coachSees,
    robin_verified: robinNow.email_verified,
    sam_reset: samMe.email_verified,
  };
  const week = `7 days: +${balance.deposits_7d.toFixed(2)} / -${balance.withdrawals_7d.toFixed(2)}`;
  if (asJson) {
    console.log(JSON.stringify(summary));
    return;
  }
  console.log(`
First week of Alex and Sam
  bids logged       ${bids.length} (one resent: stored once; one conflicting id: refused)
  turned toward     ${percent(stats.toward_rate)}, positive:negative ${stats.positive_negative_ratio ?? "n/a"}
  streak            ${stats.streak_days} days
  balance           ${balance.balance.toFixed(2)} (${week})
  coach Robin sees  ${coachSees} bids over ${progress.weeks.length} weeks, and no notes
  Sam forgot the password and got back in with a mailed link`);
}

firstWeek().catch((error: unknown) => {
  // fetch() says only "fetch failed"; its cause says why (ECONNREFUSED, a bad address, ...).
  const cause = error instanceof Error && error.cause !== undefined ? ` (${String(error.cause)})` : "";
  const reason = error instanceof Error ? error.message : String(error);
  console.error(`first week failed against ${baseUrl}: ${reason}${cause}`);
  process.exit(1);
});
