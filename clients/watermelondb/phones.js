// Two phones of one couple, each a WatermelonDB database in memory (LokiJS), syncing with a
// live Tend through WatermelonDB's own synchronize(): what a React Native app does.
//
//   node phones.js http://127.0.0.1:8000
//
// The test that runs it (tests/sync/test_watermelondb_phones.py) sends one command a line
// on stdin, {"step": name, "now": ms} with the server's clock, and reads one JSON line back
// per step. After every step both phones must hold exactly what GET /v1/bids shows their
// owner; anything else, or anything WatermelonDB logs as an error, ends the script with 1.
'use strict'

const crypto = require('node:crypto')
const readline = require('node:readline')
const { Database, Model, appSchema, tableSchema } = require('@nozbe/watermelondb')
const LokiJSAdapter = require('@nozbe/watermelondb/adapters/lokijs').default
const { synchronize } = require('@nozbe/watermelondb/sync')
const { setGenerator } = require('@nozbe/watermelondb/utils/common/randomId')
const logger = require('@nozbe/watermelondb/utils/common/logger').default

const BASE = process.argv[2]
const PASSWORD = 'correct horse battery staple'

// Tend's ids are UUIDs: the phone makes them, so an offline bid keeps its id on the server.
setGenerator(() => crypto.randomUUID())

// WatermelonDB reports recoverable sync problems through its logger, not by throwing.
const logged = []
for (const level of ['error', 'warn']) {
  logger[level] = (...args) => logged.push(`${level}: ${args.map(String).join(' ')}`)
}
logger.log = () => {}

// The phone's schema: the columns of Tend's raw records (README, "Offline sync").
const schema = appSchema({
  version: 1,
  tables: [
    tableSchema({
      name: 'bids',
      columns: [
        { name: 'couple_id', type: 'string', isOptional: true },
        { name: 'kind', type: 'string' },
        { name: 'initiator', type: 'string' },
        { name: 'logged_by', type: 'string', isOptional: true },
        { name: 'occurred_at', type: 'number' },
        { name: 'duration_seconds', type: 'number', isOptional: true },
        { name: 'note', type: 'string', isOptional: true },
        { name: 'response', type: 'string' },
        { name: 'responded_by', type: 'string', isOptional: true },
        { name: 'responded_at', type: 'number', isOptional: true },
        { name: 'deposit', type: 'number', isOptional: true },
        // WatermelonDB keeps created_at and updated_at itself (numbers, never optional).
        { name: 'created_at', type: 'number' },
        { name: 'updated_at', type: 'number' },
      ],
    }),
    tableSchema({
      name: 'notifications',
      columns: [
        { name: 'kind', type: 'string' },
        { name: 'title', type: 'string' },
        { name: 'body', type: 'string' },
        { name: 'data', type: 'string' },
        { name: 'created_at', type: 'number' },
        { name: 'due_at', type: 'number' },
        { name: 'read_at', type: 'number', isOptional: true },
      ],
    }),
    tableSchema({
      name: 'couples',
      columns: [
        { name: 'partner_id', type: 'string', isOptional: true },
        { name: 'partner_name', type: 'string', isOptional: true },
        { name: 'created_at', type: 'number' },
        { name: 'ended_at', type: 'number', isOptional: true },
        { name: 'timezone', type: 'string' },
        { name: 'day_start_hour', type: 'number' },
        { name: 'half_life_hours', type: 'number' },
      ],
    }),
  ],
})

class Bid extends Model {
  static table = 'bids'
}
class Notification extends Model {
  static table = 'notifications'
}
class Couple extends Model {
  static table = 'couples'
}

async function api(person, method, path, body, expected) {
  const response = await fetch(`${BASE}${path}`, {
    method,
    headers: {
      'Content-Type': 'application/json',
      ...(person && person.token ? { Authorization: `Bearer ${person.token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await response.text()
  if (expected !== undefined && response.status !== expected) {
    throw new Error(`${method} ${path}: expected ${expected}, got ${response.status}: ${text}`)
  }
  return { status: response.status, body: text ? JSON.parse(text) : null }
}

class Phone {
  constructor(name) {
    this.name = name
    this.pushes = 0
    this.conflicts = 0
    this.replacements = 0
    this.database = new Database({
      adapter: new LokiJSAdapter({
        dbName: `tend-${name}-${crypto.randomUUID()}`,
        schema,
        useWebWorker: false,
        useIncrementalIndexedDB: true, // Node has no IndexedDB: it keeps the data in memory
        extraLokiOptions: { autosave: false },
      }),
      modelClasses: [Bid, Notification, Couple],
    })
  }

  async signIn(person) {
    const { body } = await api(null, 'POST', '/v1/auth/login', {
      email: person.email,
      password: PASSWORD,
    }, 200)
    person.token = body.access_token
    this.person = person
  }

  // What a phone app does: synchronize(), and when the push meets a 409 (a record changed on
  // the server since the pull), synchronize() again: it pulls, merges, and pushes anew.
  async sync() {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.syncOnce()
        return
      } catch (error) {
        if (attempt < 3 && String(error.message).includes('409')) {
          this.conflicts += 1
          continue
        }
        throw error
      }
    }
  }

  async syncOnce() {
    const person = this.person
    await synchronize({
      database: this.database,
      sendCreatedAsUpdated: true,
      pullChanges: async ({ lastPulledAt, schemaVersion, migration }) => {
        const query = `last_pulled_at=${lastPulledAt ?? 'null'}&schema_version=${schemaVersion}` +
          `&migration=${encodeURIComponent(JSON.stringify(migration))}`
        const { body } = await api(person, 'GET', `/v1/sync?${query}`, undefined, 200)
        if (body.experimentalStrategy === 'replacement') this.replacements += 1
        const meanwhile = this.afterNextPull
        this.afterNextPull = null
        if (meanwhile) await meanwhile()
        return body
      },
      pushChanges: async ({ changes, lastPulledAt }) => {
        this.pushes += 1
        const { status, body } = await api(
          person, 'POST', `/v1/sync?last_pulled_at=${lastPulledAt}`, { changes })
        if (status !== 200) throw new Error(`push answered ${status}: ${JSON.stringify(body)}`)
        return body
      },
    })
  }

  async write(action) {
    return this.database.write(action)
  }

  async bids() {
    return this.database.get('bids').query().fetch()
  }

  async find(table, id) {
    return this.database.get(table).find(id)
  }

  async logBid(fields) {
    return this.write(() => this.database.get('bids').create((bid) => {
      for (const [column, value] of Object.entries({ note: null, duration_seconds: null,
        response: 'pending', ...fields })) {
        bid._setRaw(column, value)
      }
    }))
  }

  async change(table, id, fields) {
    const record = await this.find(table, id)
    await this.write(() => record.update((r) => {
      for (const [column, value] of Object.entries(fields)) r._setRaw(column, value)
    }))
  }

  async remove(id) {
    const record = await this.find('bids', id)
    await this.write(() => record.markAsDeleted())
  }
}

const BID_COLUMNS = ['kind', 'initiator', 'logged_by', 'occurred_at', 'duration_seconds', 'note',
  'response', 'responded_by', 'deposit']

// The phone's bids must be the owner's GET /v1/bids, column for column. What the server
// computes for a pushed bid (its deposit, who logged it) reaches the phone at its next pull:
// the phone syncs once more first, as an app does after pushing.
async function checkAgainstServer(phone) {
  await phone.sync()
  const server = new Map()
  let cursor = null
  do {
    const query = cursor ? `?limit=200&cursor=${encodeURIComponent(cursor)}` : '?limit=200'
    const { body } = await api(phone.person, 'GET', `/v1/bids${query}`, undefined, 200)
    for (const bid of body.items) server.set(bid.id, bid)
    cursor = body.next_cursor
  } while (cursor)
  const local = new Map((await phone.bids()).map((bid) => [bid.id, bid._raw]))
  const problems = []
  for (const id of new Set([...server.keys(), ...local.keys()])) {
    const mine = local.get(id)
    const theirs = server.get(id)
    if (!mine || !theirs) {
      problems.push(`${phone.name}: bid ${id} only ${mine ? 'on the phone' : 'on the server'}`)
      continue
    }
    for (const column of BID_COLUMNS) {
      let expected = theirs[column]
      if (column === 'occurred_at') expected = Date.parse(expected)
      if (mine[column] !== expected) {
        problems.push(`${phone.name}: bid ${id} ${column} is ${mine[column]}, server ${expected}`)
      }
    }
    if (mine._status !== 'synced') problems.push(`${phone.name}: bid ${id} is ${mine._status}`)
  }
  if (problems.length) throw new Error(problems.join('\n'))
  return server.size
}

async function inboxOf(phone) {
  return new Map((await phone.database.get('notifications').query().fetch())
    .map((n) => [n.id, n._raw]))
}

const alex = { name: 'Alex', email: `alex-${crypto.randomUUID()}@example.com` }
const sam = { name: 'Sam', email: `sam-${crypto.randomUUID()}@example.com` }
const phoneA = new Phone('alex-phone')
const phoneB = new Phone('sam-phone')
const state = {}

const steps = {
  // Sign up and pair over REST, then a first sync on both phones.
  async pair() {
    for (const person of [alex, sam]) {
      const { body } = await api(null, 'POST', '/v1/auth/register', {
        email: person.email, password: PASSWORD, display_name: person.name,
        timezone: 'Europe/Berlin',
      }, 201)
      person.id = body.user.id
      person.token = body.access_token
    }
    const { body } = await api(alex, 'POST', '/v1/couple/invites', {}, 201)
    await api(sam, 'POST', '/v1/couple/join', { code: body.code }, 201)
    await phoneA.signIn(alex)
    await phoneB.signIn(sam)
    await phoneA.sync()
    await phoneB.sync()
    const couples = await phoneB.database.get('couples').query().fetch()
    if (couples.length !== 1 || couples[0]._raw.partner_name !== 'Alex') {
      throw new Error(`Sam's phone should hold the couple with Alex: ${JSON.stringify(couples)}`)
    }
    return { alex: alex.id, sam: sam.id }
  },

  // Both log bids while offline, then sync in turn: each sees the other's.
  async offline(now) {
    const a = [
      await phoneA.logBid({ kind: 'hug', initiator: 'me', occurred_at: now - 3600e3,
        duration_seconds: 25, response: 'toward' }),
      await phoneA.logBid({ kind: 'question', initiator: 'me', occurred_at: now - 1800e3,
        note: 'Asked about the interview' }),
      await phoneA.logBid({ kind: 'kiss', initiator: 'partner', occurred_at: now - 600e3 }),
    ]
    const b = [
      await phoneB.logBid({ kind: 'compliment', initiator: 'me', occurred_at: now - 5400e3 }),
      await phoneB.logBid({ kind: 'smile', initiator: 'partner', occurred_at: now - 60e3,
        response: 'toward' }),
    ]
    state.a = a.map((bid) => bid.id)
    state.b = b.map((bid) => bid.id)
    await phoneA.sync()
    await phoneB.sync()
    await phoneA.sync()
    return { bids: [await checkAgainstServer(phoneA), await checkAgainstServer(phoneB)] }
  },

  // Alex answers Sam's bid and edits a note; Sam deletes a bid of his own.
  async edits() {
    await phoneA.change('bids', state.b[0], { response: 'toward' })
    await phoneA.change('bids', state.a[1], { note: 'Asked about the interview, listened long' })
    await phoneB.remove(state.b[1])
    await phoneA.sync()
    await phoneB.sync()
    await phoneA.sync()
    return { bids: [await checkAgainstServer(phoneA), await checkAgainstServer(phoneB)] }
  },

  // The same bid answered differently on both phones: the pull merges, the phone's own
  // change wins, and the last to sync sets it. And a note changed on Alex's laptop between
  // his phone's pull and push: the push meets a 409, the phone pulls again (merging) and
  // pushes anew; both phones end alike.
  async conflict() {
    const kiss = state.a[2]
    await phoneB.change('bids', kiss, { response: 'toward' })
    await phoneA.change('bids', kiss, { response: 'away' })
    await phoneA.change('bids', state.a[0], { note: 'From the phone' })
    phoneA.afterNextPull = () =>
      api(alex, 'PATCH', `/v1/bids/${state.a[0]}`, { note: 'From the laptop' }, 200)
    await phoneB.sync()
    const before = phoneA.conflicts
    await phoneA.sync()
    await phoneB.sync()
    const finalKiss = (await phoneB.find('bids', kiss))._raw.response
    const note = (await phoneB.find('bids', state.a[0]))._raw.note
    if (phoneA.conflicts === before) throw new Error('Alex\'s push should have met a 409')
    if (finalKiss !== 'away' || note !== 'From the phone') {
      throw new Error(`the last push should win: ${finalKiss}, ${note}`)
    }
    return { bids: [await checkAgainstServer(phoneA), await checkAgainstServer(phoneB)],
      conflicts: phoneA.conflicts - before }
  },

  // Sam reads a nudge on his phone; another is read on the server: both reach the other side.
  async inbox() {
    const inbox = await inboxOf(phoneB)
    const unread = [...inbox.values()].filter((n) => n.read_at === null)
    if (unread.length < 2) throw new Error(`Sam should have unread nudges: ${inbox.size}`)
    const [onPhone, onServer] = unread
    await phoneB.change('notifications', onPhone.id, { read_at: Date.now() })
    await api(sam, 'POST', `/v1/me/notifications/${onServer.id}/read`, undefined, 200)
    await phoneB.sync()
    const server = new Map((await api(sam, 'GET', '/v1/me/notifications?limit=200', undefined,
      200)).body.items.map((n) => [n.id, n]))
    const after = await inboxOf(phoneB)
    for (const id of [onPhone.id, onServer.id]) {
      if (server.get(id).read_at === null) throw new Error(`${id} should be read on the server`)
      if (after.get(id).read_at === null) throw new Error(`${id} should be read on the phone`)
    }
    if (after.size !== server.size) throw new Error(`inbox ${after.size} vs ${server.size}`)
    return { inbox: after.size }
  },

  // Alex deletes a bid on his laptop; then both phones stay away for months.
  async away_before() {
    await api(alex, 'DELETE', `/v1/bids/${state.a[1]}`, undefined, 204)
    return {}
  },

  // Back after longer than Tend keeps deletions: the pull is the full set (replacement),
  // which drops what was deleted meanwhile and keeps the bid not pushed yet.
  async away_after(now) {
    await phoneA.signIn(alex)
    await phoneB.signIn(sam)
    const fresh = await phoneB.logBid({ kind: 'smile', initiator: 'me', occurred_at: now })
    const before = phoneB.replacements
    await phoneB.sync()
    await phoneA.sync()
    if (phoneB.replacements !== before + 1) throw new Error('Sam\'s pull should be a replacement')
    const ids = (await phoneB.bids()).map((bid) => bid.id)
    if (ids.includes(state.a[1])) throw new Error('the bid Alex deleted should be gone')
    if (!ids.includes(fresh.id)) throw new Error('the bid logged offline should stay')
    return { bids: [await checkAgainstServer(phoneA), await checkAgainstServer(phoneB)] }
  },
}

async function main() {
  const lines = readline.createInterface({ input: process.stdin })
  for await (const line of lines) {
    if (!line.trim()) continue
    const { step, now } = JSON.parse(line)
    const result = await steps[step](now)
    if (logged.length) throw new Error(`WatermelonDB logged:\n${logged.join('\n')}`)
    console.log(JSON.stringify({ step, ok: true, pushes: phoneA.pushes + phoneB.pushes,
      ...result }))
  }
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : String(error))
  process.exit(1)
})
