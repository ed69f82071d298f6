/// The browser app at `/`: one self-contained page (no CDN, no external font), kept current
/// by the event stream without reloads.
enum PeerPage {
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; "
        + "form-action 'none'; base-uri 'none'; frame-ancestors 'none'"

    static let html = #"""
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sonic Share</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
:root{--bg:#f4f5f7;--card:#fff;--ink:#1f2933;--mute:#6b7280;--line:#e5e7eb;--blue:#2563eb;--green:#16a34a;--red:#dc2626}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;background:var(--bg);color:var(--ink)}
header{display:flex;flex-wrap:wrap;gap:12px;align-items:center;padding:12px 20px;background:#111827;color:#f9fafb}
header h1{font-size:18px;margin:0 12px 0 0;letter-spacing:.3px}header .meta{color:#cbd5e1;font-size:13px}
.pill{display:inline-flex;align-items:center;gap:6px;padding:2px 10px;border-radius:999px;background:#1f2937;font-size:12px}
.dot{width:8px;height:8px;border-radius:50%;background:#9ca3af}.dot.up{background:#22c55e}.dot.down{background:#ef4444}
main{max-width:1100px;margin:0 auto;padding:16px;display:grid;gap:16px}
section{background:var(--card);border-radius:10px;box-shadow:0 1px 3px #0001;padding:14px 16px}
h2{font-size:15px;margin:0 0 10px;display:flex;justify-content:space-between;align-items:center}
table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:middle}
th{font-size:12px;color:var(--mute);font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.hash{font-family:ui-monospace,monospace;font-size:12px;color:var(--mute)}.empty{color:var(--mute);padding:8px}
button{font:inherit;padding:4px 12px;border-radius:6px;border:1px solid var(--line);background:#fff;cursor:pointer}
button.primary{background:var(--blue);border-color:var(--blue);color:#fff}button:disabled{opacity:.5;cursor:default}
button.danger{color:var(--red)}
form.search{display:flex;gap:8px;margin-bottom:10px}form.search input{flex:1;padding:7px 10px;font:inherit;border:1px solid var(--line);border-radius:6px}
.bar{position:relative;height:16px;background:#e5e7eb;border-radius:8px;overflow:hidden;min-width:160px}
.bar>div{height:100%;background:var(--blue);transition:width .3s}.bar.done>div{background:var(--green)}.bar.failed>div{background:var(--red)}
.bar span{position:absolute;inset:0;text-align:center;font-size:11px;line-height:16px;color:#111}
#errors{display:grid;gap:6px}.error{background:#fef2f2;color:#991b1b;border:1px solid #fecaca;padding:8px 12px;border-radius:8px;display:flex;justify-content:space-between}
.upload{display:flex;gap:8px;align-items:center}.state{font-size:12px;color:var(--mute)}
</style></head>
<body>
<header><h1>Sonic Share</h1><span class="meta" id="peer">…</span><span id="indexes"></span>
<span class="meta" id="rates"></span></header>
<main>
<div id="errors" role="alert"></div>
<section><h2>Search the network</h2>
<form class="search" id="search-form"><input id="search-input" type="search" placeholder="Keywords (blank: every file)" aria-label="Search">
<button class="primary" id="search-button" type="submit">Search</button></form>
<table><thead><tr><th>Name</th><th class="num">Size</th><th>SHA-256</th><th class="num">Peers</th><th></th></tr></thead>
<tbody id="results"><tr><td colspan="5" class="empty">Search with a blank box to list every file in the network.</td></tr></tbody></table>
<div id="search-more" class="state"></div></section>
<section><h2>Downloads</h2>
<table><thead><tr><th>Name</th><th>Progress</th><th class="num">Rate</th><th class="num">ETA</th><th class="num">Peers</th><th>State</th><th></th></tr></thead>
<tbody id="downloads"></tbody></table></section>
<section><h2><span>Shared files</span><span class="upload"><input type="file" id="upload-input">
<button id="upload-button">Share</button></span></h2>
<table><thead><tr><th>Name</th><th class="num">Size</th><th>SHA-256</th><th class="num">Served</th></tr></thead>
<tbody id="files"></tbody></table></section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const state = {downloads: new Map(), files: [], results: []};

function bytes(n) {
  if (n == null) return "–";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"]; let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(n < 10 ? 2 : 1)) + " " + u[i];
}
function eta(s) {
  if (s == null) return "–"; s = Math.round(s);
  if (s < 60) return s + " s"; if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
}
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(e.dataset, v); else e.setAttribute(k, v);
  }
  for (const kid of kids) e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  return e;
}
function showError(message) {
  const box = el("div", {class: "error"}, el("span", {}, message), el("button", {onclick: () => box.remove(), "aria-label": "Dismiss"}, "×"));
  $("errors").append(box);
  while ($("errors").children.length > 5) $("errors").firstChild.remove();
}
async function api(method, path, body, raw) {
  const init = {method, headers: {"X-Sonic-Request": "1"}};
  if (raw) init.body = raw; else if (body !== undefined) { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
  let r;
  try { r = await fetch(path, init); } catch (e) { throw new Error("the peer does not answer (" + e.message + ")"); }
  if (r.status === 204) return null;
  let j = null; try { j = await r.json(); } catch (_) {}
  if (!r.ok) throw new Error((j && j.error && j.error.message) || ("HTTP " + r.status));
  return j;
}

function renderStatus(s) {
  $("peer").textContent = "peer " + s.address + " · sharing " + s.shared_files + " file(s), " + bytes(s.shared_bytes);
  const box = $("indexes"); box.replaceChildren();
  for (const i of s.indexes) {
    box.append(el("span", {class: "pill", title: i.error || "answers", dataset: {index: i.address, reachable: String(i.reachable)}},
      el("span", {class: "dot " + (i.reachable ? "up" : "down")}), "index " + i.address + (i.reachable ? "" : " (down)")), " ");
  }
  renderRates(s.upload_rate, s.download_rate);
}
function renderRates(up, down) { $("rates").textContent = "↑ " + bytes(up) + "/s  ↓ " + bytes(down) + "/s"; }

function renderResults() {
  const body = $("results"); body.replaceChildren();
  if (state.results.length === 0) { body.append(el("tr", {}, el("td", {colspan: 5, class: "empty"}, "No file matches."))); return; }
  const shared = new Set(state.files.map((f) => f.content_id));
  for (const r of state.results) {
    const d = state.downloads.get(r.content_id);
    const mine = shared.has(r.content_id);
    const label = mine ? "Shared" : d ? (d.state === "completed" ? "Done" : "Downloading") : "Download";
    const button = el("button", {class: "primary download", onclick: () => startDownload(r)}, label);
    button.disabled = mine || (d && d.state !== "failed" && d.state !== "paused");
    body.append(el("tr", {dataset: {name: r.name, contentId: r.content_id}},
      el("td", {title: r.names.join("\n")}, r.name + (r.names.length > 1 ? " (+" + (r.names.length - 1) + ")" : "")),
      el("td", {class: "num"}, bytes(r.size)), el("td", {class: "hash", title: r.sha256}, r.sha256.slice(0, 12)),
      el("td", {class: "num peers"}, r.peer_count), el("td", {}, button)));
  }
}
async function search() {
  try {
    const q = $("search-input").value;
    const page = await api("GET", "/api/v1/search?limit=500&q=" + encodeURIComponent(q));
    state.results = page.results; renderResults();
    $("search-more").textContent = page.total > page.results.length ? "Showing " + page.results.length + " of " + page.total + "." : page.total + " result(s).";
  } catch (e) { showError("Search failed: " + e.message); }
}
async function startDownload(r) {
  try { upsertDownload(await api("POST", "/api/v1/downloads", {content_id: r.content_id, name: r.name})); }
  catch (e) { showError("Cannot download " + r.name + ": " + e.message); }
}

function upsertDownload(d) { state.downloads.set(d.id, d); renderDownloads(); renderResults(); }
function renderDownloads() {
  const body = $("downloads"); body.replaceChildren();
  if (state.downloads.size === 0) { body.append(el("tr", {}, el("td", {colspan: 7, class: "empty"}, "Nothing downloading."))); return; }
  for (const d of state.downloads.values()) {
    const pct = d.size > 0 ? Math.floor(d.verified_bytes * 100 / d.size) : 100;
    const bar = el("div", {class: "bar" + (d.state === "completed" ? " done" : d.state === "failed" ? " failed" : ""),
      role: "progressbar", "aria-valuenow": pct, "aria-valuemin": 0, "aria-valuemax": 100},
      el("div", {style: "width:" + pct + "%"}), el("span", {class: "pct"}, pct + " %"));
    const actions = el("td", {});
    if (d.state === "running" || d.state === "queued") actions.append(el("button", {onclick: () => act(d, "pause")}, "Pause"), " ");
    if (d.state === "paused" || d.state === "failed") actions.append(el("button", {onclick: () => act(d, "resume")}, "Resume"), " ");
    actions.append(el("button", {class: "danger", onclick: () => act(d, "cancel")}, d.state === "completed" ? "Clear" : "Cancel"));
    const peers = d.peers.length ? d.peers.map((p) => p.address + ": " + bytes(p.bytes)).join("\n") : "";
    body.append(el("tr", {dataset: {downloadId: d.id, state: d.state}},
      el("td", {title: d.path}, d.name), el("td", {}, bar), el("td", {class: "num"}, d.state === "running" ? bytes(d.rate) + "/s" : "–"),
      el("td", {class: "num"}, d.state === "running" ? eta(d.eta_seconds) : "–"),
      el("td", {class: "num", title: peers}, d.state === "running" ? d.active_peers : d.peers.length || "–"),
      el("td", {class: "state", title: d.error || ""}, d.state + (d.error && d.state !== "completed" ? ": " + d.error : "")), actions));
  }
}
async function act(d, what) {
  try {
    if (what === "cancel") { await api("DELETE", "/api/v1/downloads/" + d.id); state.downloads.delete(d.id); renderDownloads(); renderResults(); }
    else upsertDownload(await api("POST", "/api/v1/downloads/" + d.id + "/" + what));
  } catch (e) { showError(what + " failed: " + e.message); }
}

function renderFiles() {
  const body = $("files"); body.replaceChildren();
  if (state.files.length === 0) { body.append(el("tr", {}, el("td", {colspan: 4, class: "empty"}, "The folder shares nothing yet."))); return; }
  for (const f of state.files) {
    body.append(el("tr", {dataset: {name: f.name, sha256: f.sha256}}, el("td", {}, f.name), el("td", {class: "num"}, bytes(f.size)),
      el("td", {class: "hash", title: f.sha256}, f.sha256.slice(0, 12)), el("td", {class: "num"}, bytes(f.bytes_served))));
  }
}
async function loadFiles() {
  try { state.files = (await api("GET", "/api/v1/files")).files; renderFiles(); renderResults(); }
  catch (e) { showError("Cannot list shared files: " + e.message); }
}
async function upload() {
  const file = $("upload-input").files[0];
  if (!file) { showError("Pick a file to share first."); return; }
  $("upload-button").disabled = true; $("upload-button").textContent = "Sharing…";
  try { await api("POST", "/api/v1/files?name=" + encodeURIComponent(file.name), undefined, file); $("upload-input").value = ""; await loadFiles(); }
  catch (e) { showError("Cannot share " + file.name + ": " + e.message); }
  finally { $("upload-button").disabled = false; $("upload-button").textContent = "Share"; }
}

let filesTimer = null;
function connect() {
  const events = new EventSource("/api/v1/events");
  events.addEventListener("download", (e) => upsertDownload(JSON.parse(e.data)));
  events.addEventListener("download_removed", (e) => { state.downloads.delete(JSON.parse(e.data).id); renderDownloads(); renderResults(); });
  const refresh = () => { clearTimeout(filesTimer); filesTimer = setTimeout(loadFiles, 100); };
  events.addEventListener("file_added", refresh);
  events.addEventListener("file_removed", refresh);
  events.addEventListener("rates", (e) => { const r = JSON.parse(e.data); renderRates(r.upload_rate, r.download_rate); });
  events.addEventListener("error", (e) => { if (e.data) showError(JSON.parse(e.data).message); });
  events.onopen = () => { refreshStatus(); loadFiles(); };
}
async function refreshStatus() {
  try { renderStatus(await api("GET", "/api/v1/status")); } catch (e) { $("peer").textContent = "peer unreachable: " + e.message; }
}

$("search-form").addEventListener("submit", (e) => { e.preventDefault(); search(); });
$("upload-button").addEventListener("click", upload);
(async () => {
  try { for (const d of (await api("GET", "/api/v1/downloads")).downloads) state.downloads.set(d.id, d); } catch (e) { showError(e.message); }
  renderDownloads(); await loadFiles(); refreshStatus(); connect();
  setInterval(refreshStatus, 5000);
})();
</script></body></html>
"""#
}
