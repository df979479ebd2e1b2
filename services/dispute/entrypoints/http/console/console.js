// Operator console: the dispute API, read with the operator's own token (kept in sessionStorage).
"use strict";

const STATUSES = ["AWAITING_SELLER_RESPONSE", "AWAITING_BUYER_RESPONSE", "AWAITING_RETURN_SHIPMENT",
  "RETURN_IN_TRANSIT", "AWAITING_REPLACEMENT", "UNDER_REVIEW", "RESOLVED", "APPEALED", "CLOSED", "WITHDRAWN"];
const $ = (selector) => document.querySelector(selector);

function token() { return sessionStorage.getItem("disputeToken"); }

function say(text) { $("#message").textContent = text || ""; }

async function api(path) {
  const response = await fetch(path, { headers: { Authorization: "Bearer " + token() } });
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    throw new Error(`${response.status} ${problem.code || ""} ${problem.detail || problem.title || ""}`.trim());
  }
  return response;
}

function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return d.toLocaleString("en-GB", { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
    timeZone: "UTC" }) + " UTC";
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

async function loadQueue() {
  if (!token()) { say("Paste an operator token to start."); return; }
  const query = new URLSearchParams({ sort: "next_deadline", limit: "100" });
  if ($("#status").value) query.append("status", $("#status").value);
  if ($("#awaiting").value) query.set("awaiting", $("#awaiting").value);
  if ($("#due").value) query.set("due_within", $("#due").value);
  try {
    const page = await (await api("/v1/disputes?" + query)).json();
    showCounts(page.counts_by_status || {});
    showQueue(page.items);
    say(page.items.length ? "" : "No disputes match.");
  } catch (error) { say("Could not load the queue: " + error.message); }
}

function showCounts(counts) {
  const list = $("#counts");
  list.replaceChildren(...Object.entries(counts).map(([status, n]) => el("li", `${status}: ${n}`)));
}

function showQueue(items) {
  const body = $("#queue tbody");
  body.replaceChildren();
  const now = Date.now();
  for (const d of items) {
    const row = body.insertRow();
    row.dataset.id = d.id;
    const overdue = d.next_deadline && new Date(d.next_deadline).getTime() < now;
    cell(row, when(d.next_deadline), overdue ? "overdue" : "");
    cell(row, d.status);
    cell(row, d.awaiting);
    cell(row, `${d.order_id} / ${d.item_id}`);
    cell(row, `${d.refundable_amount} ${d.currency}`);
    cell(row, when(d.created_at));
    row.addEventListener("click", () => openDispute(d.id, row));
  }
}

async function openDispute(id, row) {
  document.querySelectorAll("#queue tr.selected").forEach((r) => r.classList.remove("selected"));
  if (row) row.classList.add("selected");
  try {
    const [dispute, entries] = await Promise.all([
      (await api(`/v1/disputes/${id}`)).json(), timelineOf(id)]);
    showDispute(dispute, entries);
  } catch (error) { say("Could not open the dispute: " + error.message); }
}

// The timeline comes in pages (at most 500 entries each): follow next_cursor to the end.
async function timelineOf(id) {
  let entries = [], cursor = null;
  do {
    const query = "?limit=500" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
    const page = await (await api(`/v1/disputes/${id}/timeline${query}`)).json();
    entries = entries.concat(page.entries);
    cursor = page.next_cursor;
  } while (cursor);
  return entries;
}

function showDispute(d, entries) {
  $("#dispute").hidden = false;
  $("#dispute-title").textContent = `Dispute ${d.id}`;
  const facts = { Status: d.status, Awaiting: d.awaiting, Reason: d.reason, Request: d.request,
    Buyer: d.buyer_id, Seller: d.seller_id, Paid: `${d.paid_amount} ${d.currency}`,
    Refundable: `${d.refundable_amount} ${d.currency}`, Version: d.version };
  $("#dispute-facts").replaceChildren(...Object.entries(facts).flatMap(([k, v]) => [el("dt", k), el("dd", String(v))]));
  $("#deadlines").replaceChildren(...Object.entries(d.deadlines || {}).map(([k, v]) => el("li", `${k}: ${when(v)}`)));
  showEvidence(d.id, entries.filter((e) => e.event_type === "EvidenceAdded"));
  $("#timeline").replaceChildren(...entries.map(timelineItem));
}

function timelineItem(e) {
  const item = el("li", undefined, e.visibility === "PLATFORM_ONLY" ? "internal" : "");
  item.append(el("div", e.summary, "summary"),
    el("div", `${when(e.at)} · ${e.actor.role} ${e.actor.id} · ${e.event_type} · v${e.version}`, "meta"));
  return item;
}

function showEvidence(disputeId, added) {
  const list = $("#evidence");
  if (!added.length) { list.replaceChildren(el("li", "none")); return; }
  list.replaceChildren(...added.map((e) => {
    const link = el("a", `${e.details.filename} (${e.details.content_type}, by ${e.actor.role})`);
    link.href = `/v1/disputes/${disputeId}/evidence/${e.details.evidence_id}`;
    link.addEventListener("click", (event) => { event.preventDefault(); download(link.href); });
    const li = el("li");
    li.append(link);
    return li;
  }));
}

async function download(href) {  // links cannot carry the bearer token: fetch, then open the file
  try {
    const blob = await (await api(href)).blob();
    window.open(URL.createObjectURL(blob), "_blank");
  } catch (error) { say("Could not fetch the evidence: " + error.message); }
}

function start() {
  for (const s of STATUSES) $("#status").append(new Option(s, s));
  $("#token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem("disputeToken", $("#token").value.trim());
    $("#token").value = "";
    loadQueue();
  });
  $("#forget").addEventListener("click", () => { sessionStorage.removeItem("disputeToken"); location.reload(); });
  $("#filters").addEventListener("submit", (event) => { event.preventDefault(); loadQueue(); });
  loadQueue();
}

start();
