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
<header><h1>Tend · coach</h1><button id="signout" class="quiet" hidden>Sign out</button></header>
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
  if (response.status === 401) { signOut(); throw new Error("Please sign in again."); }
  const body = response.status === 204 ? null : await response.json();
  if (!response.ok) throw new Error(body && body.detail || "Something went wrong.");
  return body;
}

function signOut() {
  store.removeItem("tend_token");
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
  const list = $("couples");
  list.innerHTML = couples.length ? "" :
    '<li class="empty">No couple shares their progress with you yet. Give them your coach code.</li>';
  for (const couple of couples) {
    const item = document.createElement("li");
    item.className = "couple"; item.tabIndex = 0; item.dataset.coupleId = couple.couple_id;
    item.innerHTML = '<div class="names">' + esc(couple.first_names.join(" & ")) + '</div>' +
      '<div class="meta">balance ' + num(couple.balance) + ' · toward ' + pct(couple.toward_rate_30d) +
      ' (30 d) · last active ' + esc(couple.last_active_day || "–") + '</div>';
    item.addEventListener("click", () => showProgress(couple, item));
    list.appendChild(item);
  }
  const selected = couples.find((c) => c.couple_id === store.getItem("tend_couple"));
  if (selected) showProgress(selected, list.querySelector('[data-couple-id="' + selected.couple_id + '"]'));
  else $("detail").innerHTML = '<p class="empty">Choose a couple.</p>';
}

function chart(id, values, labels, kind, color) {
  const w = 320, h = 140, pad = 22, n = values.length;
  const nums = values.map((v) => v == null ? 0 : v);
  const max = Math.max(1e-9, ...nums.map(Math.abs));
  const lo = Math.min(0, ...nums), hi = Math.max(0, ...nums), span = (hi - lo) || 1;
  const x = (i) => pad + (n <= 1 ? (w - 2 * pad) / 2 : i * (w - 2 * pad) / (n - 1));
  const y = (v) => h - pad - (v - lo) / span * (h - 2 * pad);
  let marks = "";
  if (kind === "bars") {
    const bw = Math.max(2, (w - 2 * pad) / Math.max(n, 1) * 0.6);
    nums.forEach((v, i) => { marks += '<rect x="' + (x(i) - bw / 2).toFixed(1) + '" y="' +
      Math.min(y(v), y(0)).toFixed(1) + '" width="' + bw.toFixed(1) + '" height="' +
      Math.abs(y(v) - y(0)).toFixed(1) + '" rx="2" fill="' + color + '"><title>' +
      esc(labels[i]) + ': ' + v + '</title></rect>'; });
  } else {
    const path = nums.map((v, i) => (i ? "L" : "M") + x(i).toFixed(1) + " " + y(v).toFixed(1)).join(" ");
    marks = '<path d="' + path + '" fill="none" stroke="' + color + '" stroke-width="2.5" stroke-linejoin="round"/>' +
      nums.map((v, i) => '<circle cx="' + x(i).toFixed(1) + '" cy="' + y(v).toFixed(1) +
        '" r="3" fill="' + color + '"><title>' + esc(labels[i]) + ': ' + num(v, 2) + '</title></circle>').join("");
  }
  return '<svg id="' + id + '" viewBox="0 0 ' + w + ' ' + h + '" role="img" aria-label="' + id + '">' +
    '<line x1="' + pad + '" x2="' + (w - pad) + '" y1="' + y(0).toFixed(1) + '" y2="' + y(0).toFixed(1) +
    '" stroke="#e8e2e9"/>' + marks + '<text x="' + pad + '" y="12" font-size="10" fill="#6d6875">max ' +
    num(max) + '</text></svg>';
}

async function showProgress(couple, item) {
  for (const other of document.querySelectorAll(".couple")) other.setAttribute("aria-selected", "false");
  if (item) item.setAttribute("aria-selected", "true");
  store.setItem("tend_couple", couple.couple_id);
  let progress;
  try { progress = await api("/v1/coach/couples/" + couple.couple_id + "/progress?weeks=12"); }
  catch (error) { $("detail").innerHTML = '<p class="empty">' + esc(error.message) + '</p>'; return; }
  const weeks = progress.weeks, labels = weeks.map((w) => "week of " + w.week_start);
  const rows = weeks.slice().reverse().map((w) => '<tr><td>' + esc(w.week_start) + '</td><td>' + w.bids +
    '</td><td>' + pct(w.toward_rate) + '</td><td class="hide-narrow">' + num(w.positive_negative_ratio) +
    '</td><td>' + num(w.end_balance) + '</td><td class="hide-narrow">' + w.active_days + '</td><td class="hide-narrow">' +
    w.initiative.map((p) => esc(p.first_name) + " " + pct(p.share)).join(", ") + '</td></tr>').join("");
  $("detail").innerHTML = '<h2 style="margin-top:0">' + esc(progress.first_names.join(" & ")) + '</h2>' +
    '<div class="charts">' +
    '<div class="chart"><h3>Balance at week end</h3>' + chart("chart-balance", weeks.map((w) => w.end_balance), labels, "line", "#c0566f") + '</div>' +
    '<div class="chart"><h3>Bids per week</h3>' + chart("chart-bids", weeks.map((w) => w.bids), labels, "bars", "#5b8e7d") + '</div>' +
    '<div class="chart"><h3>Turned toward</h3>' + chart("chart-toward", weeks.map((w) => w.toward_rate), labels, "line", "#7a6fb0") + '</div>' +
    '<div class="chart"><h3>Active days</h3>' + chart("chart-active", weeks.map((w) => w.active_days), labels, "bars", "#d4a24c") + '</div>' +
    '</div><table><thead><tr><th>Week</th><th>Bids</th><th>Toward</th><th class="hide-narrow">+:−</th>' +
    '<th>Balance</th><th class="hide-narrow">Active days</th><th class="hide-narrow">Initiative</th></tr></thead><tbody>' +
    rows + '</tbody></table>';
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
