"""The coach dashboard at /coach: one page, no build step. It signs in with the coach's
account, lists the consenting couples and draws their weekly series as inline SVG, all
through the same API (so it sees exactly what the API lets a coach see)."""

import base64
import hashlib

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tend for coaches</title>
<style>
  :root { --ink:#2d2a32; --soft:#6d6875; --line:#e8e2e9; --accent:#c0566f; --calm:#5b8e7d;
          --bg:#fbf8f6; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
  * { box-sizing: border-box; }
  [hidden] { display:none !important; }
  body { margin:0; background:var(--bg); color:var(--ink); }
  header { display:flex; align-items:center; justify-content:space-between;
           padding:14px 20px; border-bottom:1px solid var(--line); background:#fff; }
  header h1 { font-size:1.1rem; margin:0; letter-spacing:.02em; }
  main { max-width:1100px; margin:0 auto; padding:20px; }
  form#login { max-width:360px; margin:10vh auto; background:#fff; padding:24px;
               border:1px solid var(--line); border-radius:14px; display:grid; gap:12px; }
  input, button { font:inherit; padding:10px 12px; border-radius:10px; border:1px solid var(--line); }
  button { background:var(--accent); color:#fff; border:none; cursor:pointer; }
  button.quiet { background:transparent; color:var(--soft); border:1px solid var(--line); }
  #error { color:#a3263f; min-height:1.2em; margin:0; }
  #app { display:grid; grid-template-columns: 280px 1fr; gap:20px; }
  #couples { list-style:none; margin:0; padding:0; display:grid; gap:8px; align-content:start; }
  .couple { background:#fff; border:1px solid var(--line); border-radius:12px; padding:12px;
            cursor:pointer; }
  .couple[aria-selected="true"] { border-color:var(--accent); box-shadow:0 0 0 2px #c0566f22; }
  .couple .names { font-weight:600; }
  .couple .meta { color:var(--soft); font-size:.85rem; margin-top:4px; }
  .panel { background:#fff; border:1px solid var(--line); border-radius:14px; padding:16px; }
  .charts { display:grid; grid-template-columns: 1fr 1fr; gap:16px; }
  .chart h3 { font-size:.95rem; margin:0 0 8px; color:var(--soft); font-weight:600; }
  svg { width:100%; height:auto; display:block; }
  .empty { color:var(--soft); }
  .meta { color:var(--soft); font-size:.85rem; }
  .help { font-size:.85rem; color:var(--soft); display:grid; grid-template-columns:max-content 1fr; gap:4px 12px; }
  .help dt { font-weight:600; color:var(--ink); }
  .help dd { margin:0; }
  tr.partial td { color:var(--soft); }
  .practice h4 { margin:16px 0 6px; }
  .practice svg { max-width:480px; }
  table { width:100%; border-collapse:collapse; font-size:.9rem; margin-top:16px; }
  th, td { text-align:right; padding:6px 4px; border-bottom:1px solid var(--line); }
  th:first-child, td:first-child { text-align:left; }
  @media (max-width: 760px) {
    #app { grid-template-columns: 1fr; }
    .charts { grid-template-columns: 1fr; }
    .hide-narrow { display:none; }
  }
</style>
</head>
<body>
<header><h1>Tend · coach</h1><span id="code" class="meta"></span><button id="signout" class="quiet" hidden>Sign out</button></header>
<main>
  <form id="login">
    <strong>Sign in with your coach account</strong>
    <input id="email" type="email" autocomplete="username" placeholder="Email" required>
    <input id="password" type="password" autocomplete="current-password" placeholder="Password" required>
    <button id="signin" type="submit">Sign in</button>
    <p id="error" role="alert"></p>
  </form>
  <div id="app" hidden>
    <ul id="couples" aria-label="Couples who share their progress with you"></ul>
    <section id="detail" class="panel"><p class="empty">Choose a couple.</p></section>
  </div>
</main>
<script>
"use strict";
const store = window.sessionStorage;
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;","'":"&#39;"}[c]));

async function api(path, options = {}) {
  const headers = {"Content-Type": "application/json"};
  const token = store.getItem("tend_token");
  if (token) headers.Authorization = "Bearer " + token;
  const response = await fetch(path, {...options, headers});
  const body = response.status === 204 ? null : await response.json();
  // A wrong password is not an expired session: say which it was.
  if (response.status === 401 && path === "/v1/auth/login") {
    throw new Error((body && body.detail) || "Wrong email or password.");
  }
  if (response.status === 401) { signOut(); throw new Error("Your session has ended; please sign in again."); }
  if (!response.ok) throw new Error(body && body.detail || "Something went wrong.");
  return body;
}

function signOut() {
  store.removeItem("tend_token"); store.removeItem("tend_couple");
  $("email").value = ""; $("password").value = "";
  $("detail").innerHTML = '<p class="empty">Choose a couple.</p>'; $("couples").innerHTML = "";
  $("code").textContent = "";
  $("app").hidden = true; $("signout").hidden = true; $("login").hidden = false;
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("error").textContent = "";
  try {
    const tokens = await api("/v1/auth/login", {method: "POST",
      body: JSON.stringify({email: $("email").value, password: $("password").value})});
    store.setItem("tend_token", tokens.access_token);
    await showCouples();
  } catch (error) { $("error").textContent = error.message; }
});
$("signout").addEventListener("click", signOut);

const pct = (x) => x == null ? "–" : Math.round(x * 100) + "%";
const num = (x, d = 1) => x == null ? "–" : Number(x).toFixed(d);

async function allCouples() {
  const couples = [];
  let cursor = null;
  do {
    const page = await api("/v1/coach/couples?limit=200" +
      (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
    couples.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return couples.sort((a, b) => a.first_names.join(" ").localeCompare(b.first_names.join(" ")));
}

async function showCouples() {
  let couples;
  try { couples = await allCouples(); }
  catch (error) { $("error").textContent = error.message; signOut(); return; }
  $("login").hidden = true; $("app").hidden = false; $("signout").hidden = false;
  let code = "";
  try { code = (await api("/v1/coach/profile")).code; } catch (error) { code = ""; }
  $("code").textContent = code ? "Your coach code: " + code : "";
  const list = $("couples");
  list.innerHTML = couples.length ? "" :
    '<li class="empty">No couple shares their progress with you yet. Give each partner your coach code' +
    (code ? ': <strong id="empty-code">' + esc(code) + '</strong>' : '') + '.</li>';
  for (const couple of couples) {
    const item = document.createElement("li");
    item.className = "couple"; item.tabIndex = 0; item.dataset.coupleId = couple.couple_id;
    item.setAttribute("role", "button");
    item.innerHTML = '<div class="names">' + esc(couple.first_names.join(" & ")) + '</div>' +
      '<div class="meta">balance ' + num(couple.balance) + ' · toward (30 d) ' + pct(couple.toward_rate_30d) +
      ' · last active ' + esc(couple.last_active_day || "–") + '</div>' +
      '<div class="meta">sharing since ' + esc(couple.since) + '</div>';
    item.addEventListener("click", () => showProgress(couple, item));
    item.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); showProgress(couple, item); }
    });
    list.appendChild(item);
  }
  // The couple chosen last, or else the first: never an empty panel beside a list.
  const selected = couples.find((c) => c.couple_id === store.getItem("tend_couple")) || couples[0];
  if (selected) showProgress(selected, list.querySelector('[data-couple-id="' + selected.couple_id + '"]'));
  else $("detail").innerHTML = '<p class="empty">Choose a couple.</p>';
}

function chart(id, values, labels, opts) {
  // values: null is "no data" and leaves a gap, never a 0; the last week may be partial.
  const w = 340, h = 170, left = 40, right = 10, top = 12, bottom = 34, n = values.length;
  const fmt = opts.fmt || ((v) => num(v, 0));
  const known = values.filter((v) => v != null);
  let lo = Math.min(0, ...known, ...(opts.refs || []).map((r) => r.value));
  let hi = Math.max(opts.min_max || 1, ...known, ...(opts.refs || []).map((r) => r.value));
  if (opts.fixed) { lo = opts.fixed[0]; hi = opts.fixed[1]; }
  const span = (hi - lo) || 1;
  const step = (w - left - right) / Math.max(n, 1);
  const x = (i) => left + step * (i + 0.5);
  const y = (v) => h - bottom - (v - lo) / span * (h - top - bottom);
  let out = "";
  for (const t of [lo, (lo + hi) / 2, hi]) {
    out += '<line x1="' + left + '" x2="' + (w - right) + '" y1="' + y(t).toFixed(1) + '" y2="' + y(t).toFixed(1) +
      '" stroke="#f0ebf0"/><text x="' + (left - 4) + '" y="' + (y(t) + 3).toFixed(1) +
      '" font-size="9" text-anchor="end" fill="#6d6875">' + esc(fmt(t)) + '</text>';
  }
  for (const r of (opts.refs || [])) {
    out += '<line class="ref" x1="' + left + '" x2="' + (w - right) + '" y1="' + y(r.value).toFixed(1) +
      '" y2="' + y(r.value).toFixed(1) + '" stroke="#2d2a32" stroke-dasharray="4 3" stroke-width="1"/>' +
      '<text x="' + (w - right) + '" y="' + (y(r.value) - 3).toFixed(1) + '" font-size="9" text-anchor="end" fill="#2d2a32">' +
      esc(r.label) + '</text>';
  }
  const every = Math.max(1, Math.ceil(n / 6));
  labels.forEach((l, i) => {
    if (i % every === 0 || i === n - 1) out += '<text x="' + x(i).toFixed(1) + '" y="' + (h - bottom + 12) +
      '" font-size="9" text-anchor="middle" fill="#6d6875">' + esc(l.short) + '</text>';
  });
  out += '<text x="' + ((left + w - right) / 2) + '" y="' + (h - 4) + '" font-size="9" text-anchor="middle" fill="#6d6875">week starting (Monday)</text>';
  out += '<text x="10" y="' + ((top + h - bottom) / 2) + '" font-size="9" text-anchor="middle" fill="#6d6875" transform="rotate(-90 10 ' +
    ((top + h - bottom) / 2) + ')">' + esc(opts.axis) + '</text>';
  const partial = (i) => labels[i].partial;
  if (opts.kind === "bars") {
    const bw = Math.max(2, step * 0.6);
    values.forEach((v, i) => { if (v == null) return;
      out += '<rect class="mark' + (partial(i) ? ' partial' : '') + '" x="' + (x(i) - bw / 2).toFixed(1) + '" y="' +
        Math.min(y(v), y(0)).toFixed(1) + '" width="' + bw.toFixed(1) + '" height="' + Math.abs(y(v) - y(0)).toFixed(1) +
        '" rx="2" fill="' + (partial(i) ? "none" : opts.color) + '" stroke="' + opts.color + '"' +
        (partial(i) ? ' stroke-dasharray="3 2"' : '') + '><title>' + esc(labels[i].long) + ': ' + esc(fmt(v)) + '</title></rect>'; });
  } else {
    let path = "", pen = false;
    values.forEach((v, i) => {
      if (v == null) { pen = false; return; }
      path += (pen ? "L" : "M") + x(i).toFixed(1) + " " + y(v).toFixed(1) + " "; pen = true;
    });
    out += '<path d="' + path + '" fill="none" stroke="' + opts.color + '" stroke-width="2.5" stroke-linejoin="round"/>';
    values.forEach((v, i) => { if (v == null) return;
      out += '<circle class="mark' + (partial(i) ? ' partial' : '') + '" cx="' + x(i).toFixed(1) + '" cy="' + y(v).toFixed(1) +
        '" r="3.5" fill="' + (partial(i) ? "#fff" : opts.color) + '" stroke="' + opts.color + '"><title>' +
        esc(labels[i].long) + ': ' + esc(fmt(v)) + '</title></circle>'; });
  }
  return '<svg id="' + id + '" viewBox="0 0 ' + w + ' ' + h + '" role="img" aria-label="' + esc(opts.title) + '">' + out + '</svg>';
}

const ratio = (x) => x == null ? "–" : num(x, 1) + ":1";

async function showProgress(couple, item) {
  for (const other of document.querySelectorAll(".couple")) other.setAttribute("aria-selected", "false");
  if (item) item.setAttribute("aria-selected", "true");
  store.setItem("tend_couple", couple.couple_id);
  let progress, practices;
  try {
    progress = await api("/v1/coach/couples/" + couple.couple_id + "/progress?weeks=12");
    practices = await api("/v1/coach/couples/" + couple.couple_id + "/practices?weeks=12");
  } catch (error) { $("detail").innerHTML = '<p class="empty">' + esc(error.message) + '</p>'; return; }
  // Start at the couple's first week with a bid: weeks before it are no data, not zeros.
  let weeks = progress.weeks;
  const first = weeks.findIndex((w) => w.bids > 0);
  weeks = first < 0 ? weeks.slice(-1) : weeks.slice(first);
  const last = weeks.length - 1;
  const labels = weeks.map((w, i) => ({short: w.week_start.slice(5), partial: i === last,
    long: "week of " + w.week_start + (i === last ? " (this week, so far)" : "")}));
  const has = (w) => w.bids > 0;
  const rows = weeks.map((w, i) => '<tr' + (i === last ? ' class="partial"' : '') + '><td>' + esc(w.week_start) +
    (i === last ? ' <em>(so far)</em>' : '') + '</td><td>' + w.bids +
    '</td><td>' + pct(w.toward_rate) + '</td><td class="hide-narrow">' + ratio(w.positive_negative_ratio) +
    '</td><td>' + num(w.end_balance) + '</td><td class="hide-narrow">' + w.active_days + '</td><td class="hide-narrow">' +
    (has(w) ? w.initiative.map((p) => esc(p.first_name) + " " + pct(p.share)).join(", ") : "–") + '</td></tr>').reverse().join("");
  const pctAxis = (v) => Math.round(v * 100) + "%";
  $("detail").innerHTML = '<h2 style="margin-top:0">' + esc(progress.first_names.join(" & ")) + '</h2>' +
    '<p class="meta" id="consent">Both partners have shared their progress with you since ' + esc(couple.since) +
    '. The last week is this one, so far (drawn hollow).</p>' +
    '<div class="charts">' +
    '<div class="chart"><h3>Balance at week end</h3>' + chart("chart-balance", weeks.map((w) => w.end_balance), labels,
      {kind: "line", color: "#c0566f", axis: "balance", title: "Balance at week end", fmt: (v) => num(v, 0)}) + '</div>' +
    '<div class="chart"><h3>Bids per week</h3>' + chart("chart-bids", weeks.map((w) => w.bids), labels,
      {kind: "bars", color: "#5b8e7d", axis: "bids", title: "Bids per week"}) + '</div>' +
    '<div class="chart"><h3>Turned toward (share of answered bids)</h3>' + chart("chart-toward", weeks.map((w) => w.toward_rate), labels,
      {kind: "line", color: "#7a6fb0", axis: "toward", title: "Turned toward", fmt: pctAxis, fixed: [0, 1],
       refs: [{value: 0.86, label: "86%: Gottman's couples who stayed together"}]}) + '</div>' +
    '<div class="chart"><h3>Positive to negative (+:−)</h3>' + chart("chart-ratio", weeks.map((w) => w.positive_negative_ratio), labels,
      {kind: "line", color: "#d4a24c", axis: "+:−", title: "Positive to negative ratio", fmt: (v) => num(v, 0) + ":1", min_max: 6,
       refs: [{value: 5, label: "5:1"}]}) + '</div>' +
    '</div><table><thead><tr><th>Week</th><th>Bids</th><th>Toward</th><th class="hide-narrow">+:−</th>' +
    '<th>Balance</th><th class="hide-narrow">Active days</th><th class="hide-narrow">Initiative</th></tr></thead><tbody>' +
    rows + '</tbody></table>' +
    '<dl class="help"><dt>Toward</dt><dd>Of the bids answered that week, the share turned toward. Gottman found 86% in couples who stayed together, 33% in those who divorced.</dd>' +
    '<dt>+:−</dt><dd>Bids turned toward per bid turned away or against; 5:1 or more is the healthy range Gottman describes. “–” means no negative answer.</dd>' +
    '<dt>Initiative</dt><dd>Each partner’s share of the bids they started that week.</dd>' +
    '<dt>toward (30 d)</dt><dd>In the list: the share turned toward over the last 30 days.</dd></dl>' +
    practiceSection(practices);
}

function practiceSection(practices) {
  if (!practices.length) return '<h3>Practices</h3><p class="empty">No practice yet.</p>';
  let html = '<h3>Practices: done / target per week</h3>';
  for (const p of practices) {
    const weeks = p.weeks;
    const labels = weeks.map((w) => ({short: w.week_start.slice(5), partial: w.partial,
      long: "week of " + w.week_start + (w.partial ? " (so far)" : "")}));
    html += '<div class="practice"><h4>' + esc(p.title) + ' <span class="meta">' + esc(p.status) +
      (p.proposed_by === "you" ? ', proposed by you' : '') + ', from ' + esc(p.starts_on) + '</span></h4>';
    if (weeks.length) {
      html += chart("chart-practice-" + p.id, weeks.map((w) => w.target ? w.done / w.target : null), labels,
        {kind: "bars", color: "#5b8e7d", axis: "done", title: p.title + " adherence", fmt: (v) => Math.round(v * 100) + "%", fixed: [0, 1]});
      html += '<table class="adherence"><thead><tr><th>Week</th><th>Done / target</th><th>Adherence</th></tr></thead><tbody>' +
        weeks.slice().reverse().map((w) => '<tr><td>' + esc(w.week_start) + (w.partial ? ' <em>(so far)</em>' : '') +
          '</td><td>' + w.done + ' / ' + w.target + '</td><td>' + pct(w.target ? w.done / w.target : null) + '</td></tr>').join("") +
        '</tbody></table>';
    } else html += '<p class="empty">Waiting for both partners to accept.</p>';
    html += '</div>';
  }
  return html;
}

if (store.getItem("tend_token")) showCouples();
</script>
</body>
</html>
"""


_SCRIPT = PAGE.split("<script>", 1)[1].split("</script>", 1)[0]
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
# The page runs only its own inline script and talks only to this origin's API.
POLICY = (
    f"default-src 'none'; script-src 'sha256-{_SCRIPT_HASH}'; style-src 'unsafe-inline'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@router.get("/coach", response_class=HTMLResponse)
def dashboard() -> HTMLResponse:
    return HTMLResponse(PAGE, headers={"Content-Security-Policy": POLICY})
