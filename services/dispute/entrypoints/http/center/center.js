// The dispute center: buyer, seller and operator pages over the public dispute API, with the
// caller's own token (sessionStorage). Hash routes; no build step.
"use strict";

const $ = (selector, root = document) => root.querySelector(selector);
const main = () => $("#main");
const REASONS = { ITEM_NOT_RECEIVED: "My order never came", DAMAGED: "It arrived broken",
  NOT_AS_DESCRIBED: "It is not what was described", LATE_DELIVERY: "It came too late" };
const REQUESTS = { FULL_REFUND: "A full refund", PARTIAL_REFUND: "A partial refund",
  REPLACEMENT: "A replacement", RETURN_AND_REFUND: "Return it for a refund" };
const OFFER_TYPES = { PARTIAL_REFUND: "Partial refund", REPLACEMENT: "Replacement",
  RETURN_AND_REFUND: "Return and refund", FULL_REFUND: "Full refund" };
const STATUSES = ["AWAITING_SELLER_RESPONSE", "AWAITING_BUYER_RESPONSE", "AWAITING_RETURN_SHIPMENT",
  "RETURN_IN_TRANSIT", "AWAITING_REPLACEMENT", "UNDER_REVIEW", "RESOLVED", "APPEALED", "CLOSED", "WITHDRAWN"];
const ENDED = ["RESOLVED", "APPEALED", "CLOSED", "WITHDRAWN"];
const FILE_TYPES = ["image/jpeg", "image/png", "image/gif", "application/pdf"];
const MAX_FILE_BYTES = 10 * 1024 * 1024;
const WORDS = {
  CONCURRENCY_CONFLICT: "Someone changed this dispute after you opened it. The page now shows the latest state: check it and try again.",
  REFUND_EXCEEDS_REFUNDABLE_AMOUNT: "That amount is more than can still be refunded for this item.",
  NOT_YOUR_TURN: "It is not your move: the other party answers first.",
  DISPUTE_NOT_OPEN_FOR_NEGOTIATION: "Offers are closed in the dispute's current state.",
  OFFER_NOT_CURRENT: "That offer is no longer the current one.",
  MAX_OFFER_ROUNDS_REACHED: "The parties have made as many offers as the rules allow; ask the platform to decide.",
  ESCALATION_NOT_YET_ALLOWED: "You can ask the platform to step in once the seller has had time to answer.",
  DISPUTE_ALREADY_RESOLVED: "The dispute is resolved already.",
  FILING_WINDOW_CLOSED: "The time to open a dispute for this order has passed.",
  PROMISED_DELIVERY_NOT_ELAPSED: "The promised delivery date has not passed yet.",
  DISPUTE_ALREADY_EXISTS_FOR_ITEM: "This item already has a dispute.",
  DISPUTE_PREVIOUSLY_CLOSED_FOR_ITEM: "This item had a dispute that ended; it cannot be opened again.",
  APPEAL_WINDOW_CLOSED: "The time to appeal has passed.",
  APPEAL_REQUIRES_NEW_EVIDENCE: "An appeal needs evidence added after the decision: upload it first.",
  ONLY_LOSING_PARTY_MAY_APPEAL: "Only the party the decision went against may appeal.",
  MAX_APPEALS_REACHED: "This dispute has had its appeal.",
  EVIDENCE_REJECTED: "The file was refused (jpg, png, gif or pdf, up to 10 MB).",
  RETURN_WINDOW_CLOSED: "The time to ship the return has passed.",
  CURRENCY_MISMATCH: "The amount must be in the dispute's currency.",
  FORBIDDEN: "You may not do this.",
  ORDER_NOT_FOUND: "This order is not known (yet): try again in a moment.",
  TOO_MANY_EVIDENCE_FILES: "This dispute has as many evidence files as it may hold.",
  TOO_MANY_MESSAGES: "This dispute has as many messages as it may hold.",
  TOO_MANY_OFFERS: "This dispute has as many offers as it may hold.",
  VALIDATION_FAILED: "Please check what you entered:",
  UNAUTHENTICATED: "Your sign-in has expired: sign in again.",
  INVALID_TRANSITION: "This is not possible in the dispute's current state.",
  RATE_LIMITED: "Too many requests: wait a moment and try again.",
  DISPUTE_NOT_FOUND: "There is no such dispute.",
  LOCAL_MODE_ONLY: "Sign-in here exists only on a local system; use your marketplace account.",
};

// Session --------------------------------------------------------------------------------

function session() {
  const token = sessionStorage.getItem("disputeToken");
  if (!token) return null;
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(part));
    if (claims.exp && claims.exp * 1000 < Date.now()) return null;
    return { token, role: claims.role, id: claims.sub };
  } catch { return null; }
}

function signOut() { sessionStorage.removeItem("disputeToken"); location.hash = "#/sign-in"; }

// The API --------------------------------------------------------------------------------

class Refused extends Error {
  constructor(status, problem) {
    const words = WORDS[problem.code];
    const detail = problem.detail || problem.title || "";
    super(words ? (detail ? `${words} (${detail})` : words) : (detail || `The request failed (${status}).`));
    this.status = status; this.code = problem.code;
  }
}

async function api(method, path, { body, form, version } = {}) {
  const headers = {};
  const me = session();
  if (me) headers.Authorization = "Bearer " + me.token;
  if (method !== "GET") headers["Idempotency-Key"] = crypto.randomUUID();
  if (version !== undefined) headers["If-Match"] = `"${version}"`;
  let payload;
  if (form) payload = form;
  else if (body !== undefined) { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
  // no-store: whoever signs in next in this tab must never be shown what this one was
  const response = await fetch(path, { method, headers, body: payload, cache: "no-store" });
  if (!response.ok) throw new Refused(response.status, await response.json().catch(() => ({})));
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.blob();
}

// Small view helpers ---------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) if (child !== null && child !== undefined && child !== false)
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

let fieldCount = 0;
function field(labelText, input) {
  const id = input.id || `f${++fieldCount}`;
  input.id = id;
  return el("div", {}, el("label", { for: id, text: labelText }), input);
}

function choice(name, options, selected) {
  return el("select", { name }, Object.entries(options).map(([value, text]) =>
    el("option", { value, selected: value === selected, text })));
}

let flashed = null;
function flash(text) { flashed = text; }  // said on the page the next navigation shows

function say(text, kind = "") {
  const node = $("#message");
  node.textContent = text || "";
  node.className = kind;
}

function when(iso) {
  if (!iso) return "–";
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function words(code) { return (code || "").toLowerCase().replace(/_/g, " "); }
function money(amount, currency) { return amount === null || amount === undefined ? "–" : `${amount} ${currency}`; }

const page = (...nodes) => nodes;  // what a page shows; route() shows it if still current

function show(...nodes) {
  main().replaceChildren(...nodes.flat(Infinity).filter((node) => node !== null && node !== undefined));
  main().focus();
}

function form(legend, fields, submitText, action, { secondary = false } = {}) {
  const node = el("form", {}, el("fieldset", {}, el("legend", { text: legend }), ...fields,
    el("p", {}, el("button", { type: "submit", class: secondary ? "secondary" : null, text: submitText })),
    el("p", { class: "error", role: "alert" })));
  node.addEventListener("submit", async (event) => {
    event.preventDefault();
    const alert = $(".error", node);
    alert.textContent = "";
    const button = $("button[type=submit]", node);
    button.disabled = true;
    try { await action(new FormData(node), node); }
    catch (error) {
      alert.textContent = error.message;
      if (error.code === "CONCURRENCY_CONFLICT") { say(error.message, "bad"); await route(); }
    } finally { button.disabled = false; }
  });
  return node;
}

function amountInput(name = "amount") {
  return el("input", { name, inputmode: "decimal", pattern: "\\d{1,16}(\\.\\d{1,2})?", autocomplete: "off" });
}

// Sign-in (local mode) ---------------------------------------------------------------------

function signInPage() {
  const people = [["buyer", "B-1", "Buyer B-1"], ["seller", "S-1", "Seller S-1"], ["operator", "OP-1", "Operator"]];
  const buttons = people.map(([role, id, text]) => el("button", {
    type: "button", "data-role": role, text: `Sign in as ${text}`,
    onclick: () => signIn(role, id) }));
  const pasted = form("Or use a token from your identity provider", [
    field("Bearer token", el("input", { name: "token", type: "password", autocomplete: "off" }))],
  "Use this token", async (data) => {
    sessionStorage.setItem("disputeToken", String(data.get("token")).trim());
    if (!session()) throw new Error("That is not a valid, unexpired token.");
    location.hash = "#/";
  }, { secondary: true });
  show(el("h2", { text: "Sign in" }),
    el("p", { text: "On a local system, pick who you are (the tokens are minted by this service in local mode only)." }),
    el("div", { class: "row" }, buttons), pasted);
}

async function signIn(role, id) {
  try {
    const signed = await api("POST", "/v1/local/sign-in", { body: { role, id } });
    sessionStorage.setItem("disputeToken", signed.token);
    flash(`Signed in as ${role} ${id}.`);
    location.hash = "#/";
    await route();
  } catch (error) { say(error.message, "bad"); }
}

// Buyer: orders and opening ----------------------------------------------------------------

async function ordersPage() {
  const orders = await api("GET", "/v1/my/orders");
  const rows = orders.flatMap((order) => order.items.map((item) => el("tr", {},
    el("td", { text: order.order_id }), el("td", { text: item.item_id }),
    el("td", { text: money(item.amount, order.currency) }),
    el("td", { class: "wide", text: when(order.promised_delivery_date) }),
    el("td", {}, itemAction(order, item)))));
  return page(el("h2", { text: "My orders" }),
    orders.length ? el("table", {}, el("thead", {}, el("tr", {}, ["Order", "Item", "Paid",
      "Promised delivery", "Dispute"].map((t, i) => el("th", { class: i === 3 ? "wide" : null, text: t })))),
    el("tbody", {}, rows)) : el("p", { text: "You have no orders yet." }));
}

function itemAction(order, item) {
  if (item.dispute_id) return el("a", { href: `#/dispute/${item.dispute_id}`, text: `Dispute: ${words(item.dispute_status)}` });
  if (item.may_open_for.length) return el("a", { class: "button", href: `#/open/${encodeURIComponent(order.order_id)}/${encodeURIComponent(item.item_id)}`, text: "Open a dispute" });
  const codes = [...new Set(Object.values(item.refused))];
  return el("span", { class: "muted", text: "Cannot open: " + codes.map((c) => WORDS[c] || words(c)).join(" ") });
}

async function openPage(orderId, itemId) {
  const orders = await api("GET", "/v1/my/orders");
  const order = orders.find((o) => o.order_id === orderId);
  const item = order && order.items.find((i) => i.item_id === itemId);
  if (!item) return page(el("p", { text: "No such order item." }));
  const reasons = Object.fromEntries(item.may_open_for.map((r) => [r, REASONS[r] || words(r)]));
  const request = choice("request", REQUESTS, "FULL_REFUND");
  const amount = field("Amount you ask for (partial refund)", amountInput("request_amount"));
  const photos = el("input", { name: "photos", type: "file", multiple: true, accept: FILE_TYPES.join(",") });
  const previews = el("div", { class: "previews", "aria-live": "polite" });
  const photoErrors = el("p", { class: "error" });
  const toggleAmount = () => { amount.hidden = request.value !== "PARTIAL_REFUND"; };
  request.addEventListener("change", toggleAmount);
  photos.addEventListener("change", () => checkFiles(photos, previews, photoErrors));
  const notAllowed = Object.entries(item.refused).map(([r, c]) => el("li", { text: `${REASONS[r] || words(r)}: ${WORDS[c] || words(c)}` }));
  const opening = form(`Open a dispute about ${itemId} of order ${orderId}`, [
    field("What went wrong?", choice("reason", reasons)),
    field("What would make it right?", request), amount,
    field("Describe the problem", el("textarea", { name: "description", rows: 4, maxlength: 5000 })),
    field("Photos or documents (jpg, png, gif, pdf; 10 MB each)", photos), previews, photoErrors,
  ], "Open the dispute", async (data) => {
    if (checkFiles(photos, previews, photoErrors).length) throw new Error("Remove the files that cannot be sent.");
    const body = { order_id: orderId, item_id: itemId, reason: data.get("reason"),
      request: data.get("request"), description: data.get("description") || "" };
    if (body.request === "PARTIAL_REFUND") body.request_amount = data.get("request_amount");
    const opened = await api("POST", "/v1/disputes", { body });
    let version = opened.version;
    for (const file of photos.files) version = (await upload(opened.id, file, "", version)).dispute.version;
    flash("Your dispute is open. The seller has been told.");
    location.hash = `#/dispute/${opened.id}`;
  });
  toggleAmount();
  return page(el("h2", { text: "Open a dispute" }), opening,
    notAllowed.length ? el("details", {}, el("summary", { text: "Why some reasons are not offered" }), el("ul", {}, notAllowed)) : null);
}

function checkFiles(input, previews, errors) {
  const problems = [];
  previews.replaceChildren();
  for (const file of input.files) {
    if (!FILE_TYPES.includes(file.type)) problems.push(`${file.name}: only jpg, png, gif or pdf files can be sent.`);
    else if (file.size > MAX_FILE_BYTES) problems.push(`${file.name}: larger than 10 MB.`);
    else if (file.type.startsWith("image/")) previews.append(el("img", { src: URL.createObjectURL(file), alt: `preview of ${file.name}` }));
    else previews.append(el("span", { class: "badge", text: file.name }));
  }
  errors.textContent = problems.join(" ");
  return problems;
}

async function upload(disputeId, file, description, version) {
  const data = new FormData();
  data.append("file", file);
  data.append("description", description || "");
  return api("POST", `/v1/disputes/${disputeId}/evidence`, { form: data, version });
}

// Lists ----------------------------------------------------------------------------------

function nextDeadline(d) {
  const times = Object.values(d.deadlines || {});
  return times.length ? times.sort()[0] : null;
}

function awaitingText(d, me) {
  if (d.awaiting === "none") return ENDED.includes(d.status) ? "Ended" : "Nothing awaited";
  const whom = d.awaiting === me.role ? "you" : `the ${d.awaiting}`;
  const by = nextDeadline(d);
  return `Waiting for ${whom}` + (by ? ` by ${when(by)}` : "");
}

async function disputesPage() {
  const me = session();
  const found = await api("GET", "/v1/disputes?sort=next_deadline&limit=200");
  const items = [...found.items].sort((a, b) => (b.awaiting === me.role) - (a.awaiting === me.role));
  const cards = items.map((d) => el("article", { class: "card" + (d.awaiting === me.role ? " awaiting-me" : "") },
    el("h3", {}, el("a", { href: `#/dispute/${d.id}`, text: `Order ${d.order_id}, item ${d.item_id}` })),
    el("p", {}, el("span", { class: "badge", text: words(d.status) }), " ", REASONS[d.reason] || words(d.reason)),
    el("p", { text: awaitingText(d, me) })));
  return page(el("h2", { text: me.role === "seller" ? "Disputes: awaiting me first" : "My disputes" }),
    me.role === "seller" ? el("p", {}, el("a", { href: `#/record/${encodeURIComponent(me.id)}`, text: "My dispute record" })) : null,
    cards.length ? el("div", { class: "cards" }, cards) : el("p", { text: "No disputes." }));
}

const desk = { cursors: [null], filters: {} };

async function deskPage() {
  const f = desk.filters;
  const query = new URLSearchParams({ sort: "next_deadline", limit: "20" });
  for (const [k, v] of Object.entries(f)) if (v) query.set(k, v);
  const cursor = desk.cursors[desk.cursors.length - 1];
  if (cursor) query.set("cursor", cursor);
  const found = await api("GET", "/v1/disputes?" + query);
  const filters = form("Filters", [el("div", { class: "row" },
    field("Status", choice("status", { "": "any", ...Object.fromEntries(STATUSES.map((s) => [s, words(s)])) }, f.status || "")),
    field("Awaiting", choice("awaiting", { "": "anyone", buyer: "buyer", seller: "seller", operator: "operator", none: "nobody" }, f.awaiting || "")),
    field("Due within", choice("due_within", { "": "any time", PT24H: "24 hours", P3D: "3 days", P7D: "7 days" }, f.due_within || "")),
    field("Reason", choice("reason", { "": "any", ...REASONS }, f.reason || "")),
    field("Seller", el("input", { name: "seller_id", value: f.seller_id || "", autocomplete: "off" })))],
  "Apply", async (data) => {
    desk.filters = Object.fromEntries([...data.entries()].filter(([, v]) => v));
    desk.cursors = [null];
    show(await deskPage());
  }, { secondary: true });
  const counts = el("ul", { class: "row", "aria-label": "Disputes by status" }, Object.entries(found.counts_by_status || {})
    .map(([s, n]) => el("li", { class: "badge", text: `${words(s)}: ${n}` })));
  const now = Date.now();
  const rows = found.items.map((d) => {
    const due = nextDeadline(d);
    return el("tr", {}, el("td", { class: due && new Date(due).getTime() < now ? "overdue" : null, text: when(due) }),
      el("td", {}, el("a", { href: `#/dispute/${d.id}`, text: `${d.order_id} / ${d.item_id}` })),
      el("td", { text: words(d.status) }), el("td", { text: d.awaiting }),
      el("td", { class: "wide", text: REASONS[d.reason] || d.reason }), el("td", { class: "wide", text: d.seller_id }),
      el("td", { text: money(d.refundable_amount, d.currency) }));
  });
  const paging = el("div", { class: "row" },
    el("button", { type: "button", class: "secondary", disabled: desk.cursors.length < 2, text: "Previous page",
      onclick: async () => { desk.cursors.pop(); show(await deskPage()); } }),
    el("span", { text: `Page ${desk.cursors.length}` }),
    el("button", { type: "button", class: "secondary", disabled: !found.next_cursor, text: "Next page",
      onclick: async () => { desk.cursors.push(found.next_cursor); show(await deskPage()); } }));
  return page(el("h2", { text: "Operator desk: the queue" }), filters, counts,
    el("table", { id: "queue" }, el("thead", {}, el("tr", {}, ["Next deadline", "Order / item", "Status", "Awaiting",
      "Reason", "Seller", "Refundable"].map((t, i) => el("th", { class: i === 4 || i === 5 ? "wide" : null, text: t })))),
    el("tbody", {}, rows)), found.items.length ? null : el("p", { text: "No disputes match." }), paging);
}

// One dispute ----------------------------------------------------------------------------

async function disputePage(id) {
  const me = session();
  const [d, timeline] = await Promise.all([api("GET", `/v1/disputes/${id}`),
    api("GET", `/v1/disputes/${id}/timeline`).catch(() => ({ entries: [] }))]);
  const sections = [
    el("h2", { text: `Dispute about order ${d.order_id}, item ${d.item_id}` }),
    el("p", {}, el("span", { class: "badge", id: "status", text: words(d.status) }), " ", awaitingText(d, me)),
    facts(d), el("h3", { text: "What the buyer says" }), el("p", { text: d.description || "(no description)" }),
    offersSection(d, me), actionsSection(d, me), resolutionSection(d), feedbackSection(d, me),
    messagesSection(d, me), await evidenceSection(d, me), timelineSection(timeline),
  ];
  if (me.role === "operator") sections.splice(3, 0, await orderSection(d.order_id), await recordSection(d.seller_id));
  return page(sections);
}

function facts(d) {
  const rows = [["Reason", REASONS[d.reason] || words(d.reason)], ["Asked for", REQUESTS[d.request] || words(d.request)],
    ["Amount asked", money(d.request_amount, d.currency)], ["Paid", money(d.paid_amount, d.currency)],
    ["Refunded", money(d.refunded_total, d.currency)], ["Still refundable", money(d.refundable_amount, d.currency)],
    ["Buyer", d.buyer_id], ["Seller", d.seller_id], ["Opened", when(d.created_at)],
    ...Object.entries(d.deadlines).map(([name, at]) => [`Deadline: ${words(name)}`, when(at)])];
  return el("dl", { class: "facts" }, rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
}

function command(d, path, body, done) {
  return async () => {
    await api("POST", `/v1/disputes/${d.id}${path}`, { body, version: d.version });
    say(done, "good");
    await route();
  };
}

function offerTerms(data, prefix = "") {
  const terms = { type: data.get(prefix + "type") };
  const amount = data.get(prefix + "amount");
  if (amount) terms.amount = amount;
  const note = data.get(prefix + "note");
  if (note) terms.note = note;
  return terms;
}

function offerFields(prefix = "") {
  return [field("Offer", choice(prefix + "type", { PARTIAL_REFUND: OFFER_TYPES.PARTIAL_REFUND,
    RETURN_AND_REFUND: OFFER_TYPES.RETURN_AND_REFUND, REPLACEMENT: OFFER_TYPES.REPLACEMENT })),
  field("Amount (for a refund)", amountInput(prefix + "amount")),
  field("Note", el("input", { name: prefix + "note", maxlength: 5000 }))];
}

function offersSection(d, me) {
  const party = me.role === "buyer" || me.role === "seller";
  const items = d.offers.map((o) => {
    const open = o.status === "OPEN" && o.offer_id === d.current_offer_id;
    const mayAnswer = open && party && o.made_by !== me.role;
    const line = el("li", { class: "card" }, el("p", {}, el("strong", { text: `${OFFER_TYPES[o.type] || o.type} ${o.amount ? money(o.amount, o.currency) : ""}` }),
      ` from the ${o.made_by}, round ${o.round}: ${words(o.status)}`, open ? ` (answer by ${when(o.respond_by)})` : ""),
    o.note ? el("p", { text: o.note }) : null);
    if (mayAnswer) {
      line.append(el("div", { class: "row" },
        el("button", { type: "button", text: "Accept this offer", onclick: () => run(command(d, `/offers/${o.offer_id}/accept`, {}, "You accepted the offer.")) })),
      form("Reject it, or make a counter-offer", [field("Why", el("input", { name: "reason", maxlength: 5000 })),
        el("label", {}, el("input", { type: "checkbox", name: "counter" }), " With a counter-offer:"), ...offerFields("c_")],
      "Reject", async (data) => {
        const body = { reason: data.get("reason") || "" };
        if (data.get("counter")) body.counter_offer = offerTerms(data, "c_");
        await command(d, `/offers/${o.offer_id}/reject`, body, "You rejected the offer.")();
      }, { secondary: true }));
    }
    return line;
  });
  return el("section", {}, el("h3", { text: "Offers" }), items.length ? el("ul", { class: "cards" }, items) : el("p", { class: "muted", text: "No offers yet." }));
}

async function run(action) {
  try { await action(); } catch (error) {
    say(error.message, "bad");
    if (error.code === "CONCURRENCY_CONFLICT") await route();
  }
}

function actionsSection(d, me) {
  const forms = [];
  const negotiating = ["AWAITING_SELLER_RESPONSE", "AWAITING_BUYER_RESPONSE"].includes(d.status);
  const party = me.role === "buyer" || me.role === "seller";
  if (party && negotiating && d.awaiting === me.role)
    forms.push(form("Make an offer", offerFields(), "Send the offer", async (data) =>
      command(d, "/offers", offerTerms(data), "Your offer was sent.")()));
  if (me.role === "seller" && d.status === "AWAITING_SELLER_RESPONSE") {
    forms.push(form("Grant what the buyer asks", [], "Accept the claim", async () =>
      command(d, "/accept-claim", {}, "You accepted the claim.")()));
    forms.push(form("Refuse the claim", [field("Why", el("input", { name: "reason", maxlength: 5000 })),
      field("Evidence (ids of files you uploaded, comma-separated)", el("input", { name: "evidence_ids",
        value: d.evidence.filter((e) => e.added_by === "seller").map((e) => e.evidence_id).join(",") })),
      el("label", {}, el("input", { type: "checkbox", name: "counter" }), " With a counter-offer:"), ...offerFields("c_")],
    "Reject the claim", async (data) => {
      const body = { reason: data.get("reason") || "", evidence_ids: String(data.get("evidence_ids") || "").split(",").map((s) => s.trim()).filter(Boolean) };
      if (data.get("counter")) body.counter_offer = offerTerms(data, "c_");
      await command(d, "/reject-claim", body, "You rejected the claim.")();
    }, { secondary: true }));
  }
  if (party && negotiating)
    forms.push(form("Ask the platform to decide", [field("Note", el("input", { name: "note", maxlength: 5000 }))],
      "Escalate", async (data) => command(d, "/escalate", { note: data.get("note") || "" }, "The platform will review the dispute.")(), { secondary: true }));
  if (me.role === "buyer" && !ENDED.includes(d.status))
    forms.push(form("Withdraw the dispute", [field("Why", el("input", { name: "reason", maxlength: 5000 }))],
      "Withdraw", async (data) => command(d, "/withdraw", { reason: data.get("reason") || "" }, "You withdrew the dispute.")(), { secondary: true }));
  if (me.role === "buyer" && d.status === "AWAITING_RETURN_SHIPMENT")
    forms.push(shipmentForm(d, "/return-shipment", "Ship the item back"));
  if (me.role === "seller" && d.status === "RETURN_IN_TRANSIT")
    forms.push(form("The returned item arrived", [field("In what condition?", choice("condition", {
      ITEM_RECEIVED: "As expected", DAMAGED: "Damaged", EMPTY_PACKAGE_OR_DIFFERENT: "Empty or a different item",
      MISSING_ITEMS: "Parts missing", ITEM_NOT_RECEIVED: "Nothing arrived" })), field("Note", el("input", { name: "note" }))],
    "Record the receipt", async (data) => command(d, "/return-receipt", { condition: data.get("condition"), note: data.get("note") || "" }, "Receipt recorded.")()));
  if (me.role === "seller" && d.status === "AWAITING_REPLACEMENT" && !(d.replacement && d.replacement.shipped))
    forms.push(shipmentForm(d, "/replacement-shipment", "Ship the replacement"));
  if (me.role === "buyer" && d.status === "AWAITING_REPLACEMENT" && d.replacement && d.replacement.shipped)
    forms.push(form("The replacement arrived", [], "Confirm", async () => command(d, "/replacement-receipt", {}, "Thank you.")()));
  if (party && d.status === "RESOLVED")
    forms.push(form("Appeal the decision", [field("Why", el("input", { name: "reason", maxlength: 5000 })),
      field("New evidence (ids, comma-separated)", el("input", { name: "evidence_ids",
        value: d.evidence.filter((e) => e.added_by === me.role && d.resolution && e.added_at > d.resolution.resolved_at).map((e) => e.evidence_id).join(",") }))],
    "Appeal", async (data) => command(d, "/appeals", { reason: data.get("reason") || "",
      evidence_ids: String(data.get("evidence_ids") || "").split(",").map((s) => s.trim()).filter(Boolean) }, "Your appeal was sent.")(), { secondary: true }));
  if (me.role === "operator") forms.push(...operatorForms(d));
  return el("section", { id: "actions" }, el("h3", { text: "What you can do" }),
    forms.length ? forms : el("p", { class: "muted", text: "Nothing is awaited from you now." }));
}

function shipmentForm(d, path, legend) {
  return form(legend, [field("Carrier", el("input", { name: "carrier", required: true, maxlength: 100 })),
    field("Tracking number", el("input", { name: "tracking_number", required: true, maxlength: 100 }))],
  "Record the shipment", async (data) => command(d, path, { carrier: data.get("carrier"), tracking_number: data.get("tracking_number") }, "Shipment recorded.")());
}

function operatorForms(d) {
  const forms = [];
  if (d.status === "UNDER_REVIEW") {
    forms.push(form("Request evidence", [field("From", choice("from_party", { buyer: "the buyer", seller: "the seller" })),
      field("What is needed", el("input", { name: "note", maxlength: 5000 }))],
    "Request", async (data) => command(d, "/evidence-requests", { from_party: data.get("from_party"), note: data.get("note") || "" }, "Evidence requested.")(), { secondary: true }));
    forms.push(form("Decide", [field("Outcome", choice("outcome", { BUYER_FAVOUR: "For the buyer", PARTIAL: "Partly for the buyer", SELLER_FAVOUR: "For the seller" })),
      field(`Refund (${d.currency}, up to ${d.refundable_amount})`, amountInput("refund_amount")),
      el("label", {}, el("input", { type: "checkbox", name: "return_required" }), " The item must be returned first"),
      field("Reasons", el("textarea", { name: "note", rows: 3, maxlength: 5000 }))],
    "Record the decision", async (data) => {
      const body = { outcome: data.get("outcome"), return_required: Boolean(data.get("return_required")), note: data.get("note") || "" };
      if (data.get("refund_amount")) body.refund_amount = data.get("refund_amount");
      await command(d, "/decision", body, "The decision is recorded.")();
    }));
  }
  const appeal = d.appeals.find((a) => a.status === "OPEN" || a.status === "UNDER_REVIEW");
  if (d.status === "APPEALED" && appeal)
    forms.push(form(`Decide the ${appeal.appealed_by}'s appeal`, [field("Outcome", choice("outcome", { UPHELD: "The decision stands", OVERTURNED: "Overturned" })),
      field("Extra refund to the buyer (if overturned)", amountInput("extra_refund")), field("Reasons", el("textarea", { name: "note", rows: 3 }))],
    "Decide the appeal", async (data) => {
      const body = { outcome: data.get("outcome"), note: data.get("note") || "" };
      if (data.get("extra_refund")) body.extra_refund = data.get("extra_refund");
      await command(d, `/appeals/${appeal.appeal_id}/decision`, body, "The appeal is decided.")();
    }));
  if (d.status === "RESOLVED")
    forms.push(form("Close the dispute now", [], "Close", async () => command(d, "/close", {}, "The dispute is closed.")(), { secondary: true }));
  return forms;
}

function resolutionSection(d) {
  if (!d.resolution && !d.appeals.length) return null;
  const r = d.resolution;
  return el("section", {}, el("h3", { text: "Outcome" }),
    r ? el("p", { text: `${words(r.outcome)} (${words(r.resolved_by)}), refund ${money(r.refund_amount, r.currency)}, on ${when(r.resolved_at)}. ${r.note || ""}` }) : null,
    d.appeals.map((a) => el("p", { text: `Appeal by the ${a.appealed_by}: ${words(a.status)}${a.outcome ? ", " + words(a.outcome) : ""}${a.extra_refund ? ", extra refund " + money(a.extra_refund, d.currency) : ""}` })));
}

function feedbackSection(d, me) {
  if (!ENDED.includes(d.status)) return null;
  const party = me.role === "buyer" || me.role === "seller";
  const items = Object.entries(d.feedback).map(([author, f]) => {
    const item = el("li", { class: "card" }, el("p", {}, el("strong", { text: `${author === "buyer" ? "The buyer" : "The seller"}: ${f.rating} out of 5` })),
      f.comment ? el("p", { text: f.comment }) : null,
      f.reply ? el("p", {}, el("em", { text: `Reply: ${f.reply}` })) : null);
    if (party && author !== me.role && !f.reply)
      item.append(form("Reply to this feedback (once)", [field("Your reply", el("textarea", { name: "text", rows: 2, required: true, maxlength: 5000 }))],
        "Reply", async (data) => command(d, `/feedback/${author}/reply`, { text: data.get("text") }, "Your reply is posted.")(), { secondary: true }));
    return item;
  });
  const forms = [];
  if (party && !d.feedback[me.role])
    forms.push(form("Leave feedback about how the other party handled the dispute", [
      field("Rating (1 to 5)", choice("rating", { 5: "5: very well", 4: "4", 3: "3", 2: "2", 1: "1: very badly" }, "5")),
      field("Comment", el("textarea", { name: "comment", rows: 2, maxlength: 5000 }))],
    "Leave feedback", async (data) => command(d, "/feedback", { rating: Number(data.get("rating")), comment: data.get("comment") || "" }, "Thank you for your feedback.")()));
  return el("section", {}, el("h3", { text: "Feedback" }), items.length ? el("ul", { class: "cards" }, items) : null, forms);
}

function messagesSection(d, me) {
  const list = el("ol", {}, d.messages.map((m) => el("li", { class: m.visibility === "PLATFORM_ONLY" ? "platform-only" : null },
    el("p", {}, el("strong", { text: `${m.posted_by.role} ${m.posted_by.id}` }), ` ${when(m.posted_at)}`,
      m.visibility === "PLATFORM_ONLY" ? " (internal note)" : ""), el("p", { text: m.text }))));
  const fields = [field(me.role === "operator" ? "Message or internal note" : "Message", el("textarea", { name: "text", rows: 2, required: true, maxlength: 5000 }))];
  if (me.role === "operator") fields.push(el("label", {}, el("input", { type: "checkbox", name: "internal" }), " Internal note (platform only)"));
  const post = form("Write", fields, "Post", async (data) => command(d, "/messages", {
    text: data.get("text"), visibility: data.get("internal") ? "PLATFORM_ONLY" : "PARTIES" }, "Posted.")(), { secondary: true });
  return el("section", {}, el("h3", { text: `Messages (${d.message_count})` }), d.messages.length ? list : el("p", { class: "muted", text: "No messages yet." }),
    ENDED.includes(d.status) && d.status !== "RESOLVED" ? null : post);
}

async function evidenceSection(d, me) {
  const items = await Promise.all(d.evidence.map(async (e) => {
    let preview = el("a", { href: "#", text: e.filename, onclick: async (event) => { event.preventDefault(); window.open(URL.createObjectURL(await api("GET", e.download_url))); } });
    if (e.content_type.startsWith("image/")) {
      try { preview = el("img", { src: URL.createObjectURL(await api("GET", e.download_url)), alt: `${e.filename} from the ${e.added_by}` }); }
      catch { /* shown as a link */ }
    }
    return el("li", { class: "card" }, preview, el("p", { class: "muted", text: `${e.filename} · ${e.evidence_id} · ${e.added_by} · ${when(e.added_at)} · ${Math.ceil(e.size / 1024)} KB` }),
      e.description ? el("p", { text: e.description }) : null);
  }));
  const party = me.role === "buyer" || me.role === "seller";
  let add = null;
  if (party && !["CLOSED", "WITHDRAWN"].includes(d.status)) {
    const input = el("input", { name: "file", type: "file", required: true, accept: FILE_TYPES.join(",") });
    const previews = el("div", { class: "previews" });
    const errors = el("p", { class: "error" });
    input.addEventListener("change", () => checkFiles(input, previews, errors));
    add = form("Add evidence", [field("File (jpg, png, gif, pdf; 10 MB)", input), previews, errors,
      field("What it shows", el("input", { name: "description", maxlength: 1000 }))], "Upload", async (data) => {
      if (checkFiles(input, previews, errors).length) throw new Error("This file cannot be sent.");
      await upload(d.id, input.files[0], data.get("description"), d.version);
      say("Evidence added.", "good");
      await route();
    }, { secondary: true });
  }
  const request = d.evidence_request && d.evidence_request.status === "OPEN"
    ? el("p", { class: "awaiting-me", text: `The platform asks the ${d.evidence_request.from_party} for evidence by ${when(d.evidence_request.due)}: ${d.evidence_request.note}` }) : null;
  return el("section", {}, el("h3", { text: "Evidence" }), request, items.length ? el("ul", { class: "cards", id: "evidence" }, items) : el("p", { class: "muted", text: "No evidence yet." }), add);
}

function timelineSection(timeline) {
  return el("section", {}, el("h3", { text: "Timeline" }), el("ol", { id: "timeline" }, (timeline.entries || []).map((t) =>
    el("li", {}, el("span", { class: "muted", text: when(t.at) }), " ", t.summary))));
}

async function orderSection(orderId) {
  try {
    const o = await api("GET", `/v1/orders/${encodeURIComponent(orderId)}`);
    const rows = [["Placed", when(o.placed_at)], ["Promised delivery", when(o.promised_delivery_date)],
      ["Delivered", o.delivered_at ? when(o.delivered_at) : "not reported"], ["Order total", money(o.total_amount, o.currency)],
      ["Refunded outside disputes", money(o.refunded_outside_disputes, o.currency)],
      ...Object.entries(o.items).map(([item, amount]) => [`Item ${item}`, money(amount, o.currency)])];
    return el("section", { id: "order" }, el("h3", { text: `Order ${o.order_id}` }),
      el("dl", { class: "facts" }, rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })])));
  } catch (error) { return el("p", { class: "error", text: `The order could not be read: ${error.message}` }); }
}

async function recordSection(sellerId) {
  try {
    const r = await api("GET", `/v1/sellers/${encodeURIComponent(sellerId)}/dispute-record`);
    return recordView(r);
  } catch (error) { return el("p", { class: "error", text: `The seller's record could not be read: ${error.message}` }); }
}

function pct(x) { return x === null || x === undefined ? "–" : `${Math.round(x * 1000) / 10}%`; }
function duration(iso) {
  if (!iso) return "–";
  const m = /P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?)?/.exec(iso) || [];
  const hours = Number(m[1] || 0) * 24 + Number(m[2] || 0) + Number(m[3] || 0) / 60;
  return hours >= 48 ? `${Math.round(hours / 24 * 10) / 10} days` : `${Math.round(hours * 10) / 10} hours`;
}

function recordView(r) {
  const rows = [["Orders in the window", r.orders_seen], ["Disputes opened", r.disputes_opened],
    ["Dispute rate", pct(r.dispute_rate)], ["Disputes ended", r.disputes_ended],
    ...Object.entries(r.outcome_shares).map(([k, v]) => [`Outcome: ${words(k)}`, pct(v)]),
    ["Resolved because the seller did not answer", pct(r.resolved_by_seller_timeout_share)],
    ["Median time to resolution", duration(r.median_time_to_resolution)], ["90% resolved within", duration(r.p90_time_to_resolution)],
    ["Escalated to the platform", pct(r.escalation_rate)],
    ["Buyers' rating", r.average_feedback === null ? "–" : `${r.average_feedback} out of 5 (${r.feedback_count})`]];
  return el("section", { id: "record" }, el("h3", { text: `Dispute record of seller ${r.seller_id} (last ${duration(r.window)})` }),
    el("dl", { class: "facts" }, rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: String(v) })])));
}

async function recordPage(sellerId) { return page(el("h2", { text: "Seller's dispute record" }), await recordSection(sellerId)); }

// Routing --------------------------------------------------------------------------------

function navigation(me) {
  const links = { buyer: [["#/orders", "My orders"], ["#/disputes", "My disputes"]],
    seller: [["#/disputes", "My disputes"], [`#/record/${encodeURIComponent(me.id)}`, "My record"]],
    operator: [["#/desk", "Queue"]] }[me.role] || [];
  $("#nav").replaceChildren(...links.map(([href, text]) => el("a", { href, "aria-current": location.hash.startsWith(href) ? "page" : null, text })));
  $("#who").replaceChildren(`Signed in as ${me.role} ${me.id} `, el("button", { type: "button", class: "secondary", text: "Sign out", onclick: signOut }));
}

let routeSeq = 0;

async function route() {
  const mine = ++routeSeq;  // a slower, older route must not draw over a newer one
  const me = session();
  const [, name, ...rest] = (location.hash || "#/").split("/").map(decodeURIComponent);
  if (!me) { $("#nav").replaceChildren(); $("#who").replaceChildren(); signInPage(); return; }
  navigation(me);
  try {
    const pages = { orders: () => ordersPage(), open: () => openPage(rest[0], rest[1]),
      dispute: () => disputePage(rest[0]), desk: () => deskPage(), record: () => recordPage(rest[0]),
      disputes: () => disputesPage() };
    if (!pages[name]) {
      location.hash = me.role === "operator" ? "#/desk" : me.role === "buyer" ? "#/orders" : "#/disputes";
      return;
    }
    const content = await pages[name]();
    if (mine === routeSeq) show(content);
  } catch (error) {
    if (error.code === "UNAUTHENTICATED") { signOut(); return; }
    if (mine === routeSeq) show(el("p", { class: "error", text: error.message }));
  }
}

window.addEventListener("hashchange", () => { say(flashed || "", flashed ? "good" : ""); flashed = null; route(); });
route();
