/* The review queue page.
 *
 * Everything comes from the moderation API with the session cookie; state-changing calls
 * carry the page's CSRF token. Comment text arrives as already-escaped HTML and is only
 * ever inserted as a comment's body, after a second pass that keeps nothing but paragraphs,
 * line breaks and text. Every other value from the API goes in through textContent.
 */
(() => {
  "use strict";

  const API = "/api/v1/moderation";
  const BATCH = 20; // comments claimed at a time
  const LOW_WATER = 5; // claim more when fewer than this many are left
  const RENEW_MS = 2 * 60 * 1000; // leases last five minutes
  const POLL_MS = 30 * 1000; // stats, and new comments once the queue ran dry
  const SVG = "http://www.w3.org/2000/svg";
  const VERBS = { approve: "Approved", reject: "Rejected", spam: "Marked as spam" };
  const STATUS_WORDS = {
    published: "published",
    pending: "held for review",
    spam: "spam",
    rejected: "rejected",
  };

  const body = document.body;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const likelyFineBelow = Number(body.dataset.likelyFineBelow);
  const likelySpamFrom = Number(body.dataset.likelySpamFrom);
  const $ = (id) => document.getElementById(id);
  const queueEl = $("queue");
  const template = $("item-template");

  const state = {
    items: [], // claimed comments in view, in queue order
    elements: new Map(), // id -> article
    current: 0,
    selected: new Set(),
    view: localStorage.getItem("moderate.view") === "single" ? "single" : "list",
    status: "pending",
    order: "oldest",
    thread: null,
    claiming: null,
    dry: false, // the last claim found nothing new
    ended: false,
  };

  // --- talking to the API ----------------------------------------------------------

  async function api(method, path, payload, extra = {}) {
    const headers = { Accept: "application/json" };
    if (method !== "GET") headers["X-CSRF-Token"] = csrf;
    const init = { method, headers, credentials: "same-origin", ...extra };
    if (payload !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(payload);
    }
    let response;
    try {
      response = await fetch(API + path, init);
    } catch {
      return { status: 0, ok: false, data: null };
    }
    let data = null;
    if (response.status !== 204) {
      try {
        data = await response.json();
      } catch {
        data = null;
      }
    }
    if (response.status === 401 || (response.status === 403 && errorCode(data) === "csrf")) {
      sessionEnded();
    }
    return { status: response.status, ok: response.ok, data };
  }

  const errorCode = (data) => (data && data.error && data.error.code) || "";
  const errorText = (result) =>
    (result.data && result.data.error && result.data.error.message) ||
    (result.status ? `The server answered ${result.status}.` : "The server could not be reached.");

  function sessionEnded() {
    if (state.ended) return;
    state.ended = true;
    $("session-ended").hidden = false;
    announce("Your session has ended. Sign in again to continue.");
  }

  // --- claims --------------------------------------------------------------------

  const currentFilters = () => ({
    status: state.status,
    order: state.order,
    ...(state.thread ? { thread: state.thread } : {}),
  });

  function claim() {
    if (state.claiming) return state.claiming;
    if (state.ended) return Promise.resolve();
    const filters = currentFilters();
    state.claiming = (async () => {
      const result = await api("POST", "/claims", { limit: BATCH, ...filters });
      // The filters changed while this claim was under way: its comments belong elsewhere.
      if (JSON.stringify(filters) !== JSON.stringify(currentFilters())) {
        if (result.ok) await release(result.data.items.map((item) => item.id));
        return;
      }
      if (!result.ok) {
        if (result.status !== 401) announce(`Could not load comments: ${errorText(result)}`);
        return;
      }
      const added = merge(result.data.items);
      state.dry = added === 0;
      state.leaseExpiresAt = result.data.lease_expires_at;
    })().finally(() => {
      state.claiming = null;
      $("loading").hidden = true;
      render();
    });
    return state.claiming;
  }

  function merge(items) {
    let added = 0;
    for (const item of items) {
      const known = state.items.findIndex((held) => held.id === item.id);
      if (known >= 0) {
        state.items[known] = item;
      } else {
        state.items.push(item);
        added += 1;
      }
    }
    return added;
  }

  async function renew() {
    if (!state.items.length || state.ended) return;
    const result = await api("POST", "/claims", { ids: state.items.map((item) => item.id) });
    if (!result.ok) return;
    state.leaseExpiresAt = result.data.lease_expires_at;
    const lost = result.data.unavailable || [];
    for (const id of lost) drop(Number(id));
    if (lost.length) {
      announce(
        lost.length === 1
          ? `#${lost[0]} left your queue: another moderator has it, or it was decided.`
          : `${lost.length} comments left your queue: other moderators have them, or they were decided.`,
      );
    }
    render();
  }

  function release(ids, keepalive = false) {
    const calls = ids.map((id) =>
      api("DELETE", `/claims/${encodeURIComponent(id)}`, undefined, { keepalive }),
    );
    return Promise.allSettled(calls);
  }

  function refillIfLow() {
    if (state.items.length < LOW_WATER && !(state.dry && state.items.length)) claim();
  }

  // --- decisions -----------------------------------------------------------------

  function drop(id) {
    const index = state.items.findIndex((item) => item.id === id);
    if (index < 0) return null;
    const [item] = state.items.splice(index, 1);
    state.selected.delete(id);
    const el = state.elements.get(id);
    if (el) el.remove();
    state.elements.delete(id);
    // The comment after it slides into its place and becomes the current one.
    if (index < state.current) state.current -= 1;
    state.current = Math.max(0, Math.min(state.current, state.items.length - 1));
    return { item, index };
  }

  function restore(dropped) {
    const index = Math.min(dropped.index, state.items.length);
    state.items.splice(index, 0, dropped.item);
    state.current = index;
  }

  async function decideOne(action) {
    const item = state.items[state.current];
    if (!item) return;
    // Leave the view at once, so the next comment is ready for the next key press.
    const dropped = drop(item.id);
    render(true);
    const result = await api("POST", `/comments/${item.id}/decision`, { action });
    if (result.ok) {
      const answer = result.data;
      announce(
        answer.already_decided
          ? `#${item.id} was already ${STATUS_WORDS[answer.status] || answer.status}.`
          : `${VERBS[action]} #${item.id}`,
      );
    } else if (result.status === 409) {
      announce(`#${item.id} is being reviewed by another moderator.`);
    } else if (result.status === 404) {
      announce(`#${item.id} no longer exists.`);
    } else {
      restore(dropped);
      render();
      if (result.status !== 401) announce(`#${item.id} was not changed: ${errorText(result)}`);
      return;
    }
    afterDecisions();
  }

  async function decideSelected(action) {
    const ids = state.items.filter((item) => state.selected.has(item.id)).map((item) => item.id);
    if (!ids.length) {
      announce("Nothing is selected. Select comments with X first.");
      return;
    }
    const dropped = ids.map(drop);
    render(true);
    const result = await api("POST", "/decisions", { ids, action });
    if (!result.ok) {
      dropped.reverse().forEach(restore);
      render();
      if (result.status !== 401) announce(`Nothing was changed: ${errorText(result)}`);
      return;
    }
    const outcomes = result.data.results;
    const count = (outcome) => outcomes.filter((r) => r.outcome === outcome).length;
    const decided = outcomes.filter((r) => r.outcome === "decided");
    let message =
      decided.length === 1
        ? `${VERBS[action]} #${decided[0].id}`
        : `${VERBS[action]} ${decided.length} comments`;
    if (count("already_decided")) message += `; ${count("already_decided")} already decided`;
    if (count("conflict")) message += `; ${count("conflict")} held by another moderator`;
    announce(message + ".");
    afterDecisions();
  }

  let statsTimer = null;
  function afterDecisions() {
    refillIfLow();
    clearTimeout(statsTimer);
    statsTimer = setTimeout(loadStats, 800);
  }

  // --- rendering one comment -------------------------------------------------------

  function band(score) {
    if (score === null || score === undefined) return { key: "none", words: "Not scored" };
    if (score >= likelySpamFrom) return { key: "spam", words: "Likely spam" };
    if (score < likelyFineBelow) return { key: "fine", words: "Likely fine" };
    return { key: "unsure", words: "Unsure" };
  }

  const percent = (score) => `${Math.round(score * 100)}%`;

  function duration(seconds) {
    const minutes = Math.floor(seconds / 60);
    if (minutes < 1) return "under a minute";
    if (minutes < 60) return `${minutes} min`;
    const hours = Math.floor(minutes / 60);
    if (hours < 48) return `${hours} h ${minutes % 60 ? `${minutes % 60} min` : ""}`.trim();
    return `${Math.floor(hours / 24)} days`;
  }

  function relativeTime(iso) {
    const then = Date.parse(iso);
    if (Number.isNaN(then)) return "";
    const minutes = Math.round((Date.now() - then) / 60000);
    if (minutes < 1) return "just now";
    if (minutes < 60) return `${minutes} min ago`;
    const hours = Math.round(minutes / 60);
    if (hours < 24) return `${hours} h ago`;
    const days = Math.round(hours / 24);
    return `${days} day${days === 1 ? "" : "s"} ago`;
  }

  // The API's content is escaped text in <p> and <br>. Parsing it in an inert <template>
  // runs nothing and loads nothing; rebuilding it keeps only those two elements and text.
  function commentBody(html) {
    const parsed = document.createElement("template");
    parsed.innerHTML = html;
    const out = document.createDocumentFragment();
    const copy = (from, to) => {
      for (const node of from.childNodes) {
        if (node.nodeType === Node.TEXT_NODE) {
          to.append(node.data);
        } else if (node.nodeName === "BR") {
          to.append(document.createElement("br"));
        } else if (node.nodeName === "P") {
          const p = document.createElement("p");
          copy(node, p);
          to.append(p);
        } else {
          to.append(node.textContent);
        }
      }
    };
    copy(parsed.content, out);
    return out;
  }

  // A word-list rule's detail names the matched words: "matched: casino, free money".
  function listedWords(detail) {
    const text = String(detail || "");
    const list = text.includes(":") ? text.slice(text.indexOf(":") + 1) : text;
    return list
      .split(/[,;]/)
      .map((word) => word.trim().replace(/^["'“‘]+|["'”’]+$/g, ""))
      .filter((word) => word.length > 0 && word.length <= 100);
  }

  // Wraps matches in <mark> by splitting text nodes; the comment's text never becomes markup.
  function highlight(container, words) {
    if (!words.length) return 0;
    // As the rule matches: whole words, any case, any run of spaces between a phrase's words.
    const escaped = words.map((word) =>
      word
        .split(/\s+/)
        .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
        .join("\\s+"),
    );
    escaped.sort((a, b) => b.length - a.length); // "free money" before "free"
    const edge = "[\\p{L}\\p{N}_]";
    const pattern = new RegExp(`(?<!${edge})(?:${escaped.join("|")})(?!${edge})`, "giu");
    const walker = document.createTreeWalker(container, NodeFilter.SHOW_TEXT);
    const nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    let count = 0;
    for (const node of nodes) {
      const text = node.data;
      pattern.lastIndex = 0;
      let match;
      let last = 0;
      const parts = [];
      while ((match = pattern.exec(text)) !== null) {
        if (match[0] === "") {
          pattern.lastIndex += 1;
          continue;
        }
        parts.push(text.slice(last, match.index));
        const mark = document.createElement("mark");
        mark.className = "hit";
        mark.textContent = match[0];
        parts.push(mark);
        last = match.index + match[0].length;
        count += 1;
      }
      if (parts.length) {
        parts.push(text.slice(last));
        node.replaceWith(...parts.filter((part) => part !== ""));
      }
    }
    return count;
  }

  const RULES = {
    too_many_links: { words: "Links", kind: "links" },
    links: { words: "Links", kind: "links" },
    honeypot: { words: "Honeypot filled", kind: "honeypot" },
    too_fast: { words: "Sent too fast", kind: "fast" },
    word_list: { words: "Word list", kind: "words" },
  };

  function marker(label, kind, detail) {
    const li = document.createElement("li");
    li.className = `marker marker-${kind}`;
    const name = document.createElement("span");
    name.className = "marker-name";
    name.textContent = label;
    li.append(name);
    if (detail) {
      const extra = document.createElement("span");
      extra.className = "marker-detail";
      extra.textContent = detail;
      li.append(extra);
    }
    return li;
  }

  // "words:free" -> "free"; "meta:link_domains" -> "link domains".
  function featureWords(feature) {
    const [kind, ...rest] = String(feature).split(":");
    const name = rest.join(":") || kind;
    if (kind === "meta") return { text: name.replace(/^log_/, "").replace(/_/g, " "), kind: "signal" };
    if (kind === "chars") return { text: `“${name.trim()}”`, kind: "letters" };
    if (kind === "identity") return { text: `name/site: ${name}`, kind: "identity" };
    return { text: name, kind: "word" };
  }

  function historyText(commenter) {
    const total = commenter && commenter.comments;
    if (!total) return "No history";
    if (total <= 1) return "First comment";
    const parts = ["published", "pending", "spam", "rejected"]
      .filter((status) => commenter[status])
      .map((status) => `${commenter[status]} ${STATUS_WORDS[status]}`);
    return `${total} comments` + (parts.length ? `: ${parts.join(", ")}` : "");
  }

  function techRow(list, label, value) {
    if (value === null || value === undefined || value === "") return;
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = String(value);
    list.append(dt, dd);
  }

  function build(item) {
    const el = template.content.firstElementChild.cloneNode(true);
    const q = (selector) => el.querySelector(selector);
    el.dataset.id = String(item.id);
    el.setAttribute("aria-labelledby", `item-${item.id}-title`);
    q(".item-title").id = `item-${item.id}-title`;

    const level = band(item.score);
    el.classList.add(`band-${level.key}`);
    q(".band").textContent = level.words;
    q(".band").classList.add(`band-label-${level.key}`);
    if (item.score !== null && item.score !== undefined) {
      q(".band").title = `Spam probability ${percent(item.score)}`;
    }
    q(".author").textContent = item.author;
    q(".item-id").textContent = `#${item.id}`;
    q(".select-label").textContent = `Select #${item.id}`;
    const when = q(".when");
    when.dateTime = item.created_at || "";
    when.textContent = relativeTime(item.created_at);
    when.title = item.created_at ? new Date(item.created_at).toLocaleString() : "";
    q(".email").textContent = item.email || "email unreadable";
    if (item.url) q(".website").textContent = item.url;
    else q(".website").remove();
    q(".thread").textContent = item.thread;
    q(".thread").addEventListener("click", () => changeFilters({ thread: item.thread }));

    const markers = q(".markers");
    const words = [];
    for (const hit of item.rules || []) {
      const known = RULES[hit.rule] || { words: String(hit.rule).replace(/_/g, " "), kind: "other" };
      if (known.kind === "words") {
        const found = listedWords(hit.detail);
        words.push(...found);
        markers.append(marker(known.words, known.kind, found.join(", ")));
      } else {
        markers.append(marker(known.words, known.kind, hit.detail));
      }
    }
    if (item.commenter && item.commenter.comments <= 1) {
      markers.append(marker("New commenter", "new", ""));
    }
    if (!markers.children.length) markers.remove();

    const content = q(".body");
    content.append(commentBody(item.content || ""));
    highlight(content, words);

    const reasons = q(".reason-list");
    const ranked = [...(item.reasons || [])].sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight));
    for (const reason of ranked.slice(0, 6)) {
      const li = document.createElement("li");
      const towards = reason.weight > 0 ? "spam" : "fine";
      const shown = featureWords(reason.feature);
      li.className = `reason reason-${towards}`;
      li.title = `${reason.feature}: ${reason.weight > 0 ? "+" : ""}${reason.weight} (towards ${towards})`;
      const arrow = document.createElement("span");
      arrow.className = "reason-arrow";
      arrow.setAttribute("aria-hidden", "true");
      arrow.textContent = reason.weight > 0 ? "▲" : "▼";
      const text = document.createElement("span");
      text.textContent = shown.text;
      const hint = document.createElement("span");
      hint.className = "visually-hidden";
      hint.textContent = ` (towards ${towards})`;
      li.append(arrow, text, hint);
      reasons.append(li);
    }
    if (!ranked.length) q(".reasons").remove();
    q(".history-text").textContent = historyText(item.commenter);

    const tech = q(".tech-list");
    techRow(tech, "Spam probability", item.score === null ? null : percent(item.score));
    techRow(tech, "Model", item.model_version);
    techRow(tech, "Classifier said", item.machine_status && STATUS_WORDS[item.machine_status]);
    techRow(tech, "IP address", item.ip);
    techRow(tech, "Browser", item.user_agent);
    techRow(tech, "Came from", item.referrer);
    techRow(tech, "Reply to", item.parent ? `#${item.parent}` : null);

    el.querySelector(".select").addEventListener("change", (event) => {
      toggleSelected(item.id, event.target.checked);
    });
    el.addEventListener("click", (event) => {
      if (event.target.closest("button, a, input, summary, label")) return;
      setCurrent(state.items.findIndex((held) => held.id === item.id), false);
    });
    for (const button of el.querySelectorAll("[data-action]")) {
      button.addEventListener("click", () => {
        setCurrent(state.items.findIndex((held) => held.id === item.id), false);
        decideOne(button.dataset.action);
      });
    }
    return el;
  }

  // --- rendering the page ----------------------------------------------------------

  function render(focus = false) {
    queueEl.classList.toggle("view-single", state.view === "single");
    queueEl.classList.toggle("view-list", state.view === "list");
    for (const button of document.querySelectorAll("[data-view]")) {
      button.setAttribute("aria-pressed", String(button.dataset.view === state.view));
    }
    state.current = Math.max(0, Math.min(state.current, state.items.length - 1));
    state.items.forEach((item, index) => {
      let el = state.elements.get(item.id);
      if (!el) {
        el = build(item);
        state.elements.set(item.id, el);
      }
      if (queueEl.children[index] !== el) queueEl.insertBefore(el, queueEl.children[index] || null);
      const isCurrent = index === state.current;
      el.classList.toggle("is-current", isCurrent);
      if (isCurrent) el.setAttribute("aria-current", "true");
      else el.removeAttribute("aria-current");
      const selected = state.selected.has(item.id);
      el.classList.toggle("is-selected", selected);
      el.querySelector(".select").checked = selected;
    });
    const empty = state.items.length === 0;
    $("empty").hidden = !empty || state.claiming !== null;
    queueEl.hidden = empty;
    $("pager").hidden = empty || state.view !== "single";
    $("position").textContent = empty ? "" : `${state.current + 1} of ${state.items.length}`;
    $("prev").disabled = state.current <= 0;
    $("next").disabled = state.current >= state.items.length - 1;
    const count = state.selected.size;
    $("bulkbar").hidden = count === 0;
    $("selected-count").textContent = `${count} selected`;
    $("reserved").textContent = empty
      ? ""
      : `${state.items.length} comment${state.items.length === 1 ? "" : "s"} reserved for you; other moderators get different ones.`;
    if (focus) focusCurrent();
  }

  function focusCurrent() {
    const item = state.items[state.current];
    const el = item && state.elements.get(item.id);
    if (!el) {
      if (!$("empty").hidden) queueEl.focus({ preventScroll: true });
      return;
    }
    el.focus({ preventScroll: true });
    el.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }

  function setCurrent(index, focus = true) {
    if (index < 0 || index >= state.items.length) return;
    state.current = index;
    render(focus);
  }

  function toggleSelected(id, on) {
    if (on) state.selected.add(id);
    else state.selected.delete(id);
    render();
  }

  function setView(view) {
    state.view = view;
    localStorage.setItem("moderate.view", view);
    render(true);
  }

  // --- announcements ---------------------------------------------------------------

  let toastTimer = null;
  function announce(message) {
    const live = $("announce");
    // Re-setting the same text would not be announced again; clear first.
    live.textContent = "";
    requestAnimationFrame(() => {
      live.textContent = message;
    });
    const toast = $("toast");
    toast.textContent = message;
    toast.classList.add("is-visible");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => toast.classList.remove("is-visible"), 2600);
  }

  // --- statistics ------------------------------------------------------------------

  async function loadStats() {
    if (state.ended) return;
    const result = await api("GET", "/stats");
    if (!result.ok) return;
    const stats = result.data;
    for (const status of ["pending", "spam", "published", "rejected"]) {
      const value = stats.counts ? stats.counts[status] : undefined;
      $(`count-${status}`).textContent = value === undefined ? "–" : value.toLocaleString();
    }
    const age = stats.oldest_pending_age_seconds;
    $("oldest").textContent =
      age === null || age === undefined
        ? "Nothing is waiting."
        : `The oldest has waited ${duration(age)}.`;
    drawChart(stats.queue_over_time || []);
    showToday(stats.decisions || {});
  }

  function svg(name, attributes) {
    const el = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) el.setAttribute(key, String(value));
    return el;
  }

  let chartPoints = [];
  function drawChart(points) {
    chartPoints = points;
    const box = $("chart");
    box.replaceChildren();
    if (!points.length) {
      const p = document.createElement("p");
      p.className = "panel-note";
      p.textContent = "No history yet.";
      box.append(p);
      return;
    }
    // Drawn at the panel's own width: a stretched drawing would distort its text and dot.
    const width = Math.max(160, Math.round(box.clientWidth || 300));
    const height = 96;
    const pad = { top: 12, right: 8, bottom: 18, left: 8 };
    const values = points.map((point) => Number(point.pending) || 0);
    const peak = Math.max(...values, 1);
    const x = (i) => pad.left + (i * (width - pad.left - pad.right)) / Math.max(values.length - 1, 1);
    const y = (v) => pad.top + (height - pad.top - pad.bottom) * (1 - v / peak);
    const line = values.map((v, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join("");
    const base = height - pad.bottom;
    const chart = svg("svg", {
      viewBox: `0 0 ${width} ${height}`,
      width,
      height,
      role: "img",
      class: "chart-svg",
    });
    const now = values[values.length - 1];
    const summary = `Held for review over the last 24 hours: ${values[0]} a day ago, peak ${Math.max(...values)}, ${now} now.`;
    chart.setAttribute("aria-label", summary);
    const title = svg("title", {});
    title.textContent = summary;
    chart.append(title);
    for (const fraction of [0, 0.5, 1]) {
      chart.append(
        svg("line", {
          x1: pad.left,
          x2: width - pad.right,
          y1: y(peak * fraction),
          y2: y(peak * fraction),
          class: "chart-grid",
        }),
      );
    }
    chart.append(
      svg("path", {
        d: `${line}L${x(values.length - 1).toFixed(1)},${base}L${x(0).toFixed(1)},${base}Z`,
        class: "chart-area",
      }),
    );
    chart.append(svg("path", { d: line, class: "chart-line" }));
    chart.append(svg("circle", { cx: x(values.length - 1), cy: y(now), r: 3.5, class: "chart-dot" }));
    values.forEach((value, i) => {
      // Invisible hover targets: each hour's count as a tooltip.
      const hour = svg("rect", {
        x: x(i) - (width - pad.left - pad.right) / values.length / 2,
        y: pad.top,
        width: (width - pad.left - pad.right) / values.length,
        height: base - pad.top,
        class: "chart-hover",
      });
      const tip = svg("title", {});
      const at = new Date(points[i].at);
      tip.textContent = `${at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}: ${value} waiting`;
      hour.append(tip);
      chart.append(hour);
    });
    const labels = [
      [pad.left, "start", "24 h ago"],
      [width - pad.right, "end", "now"],
    ];
    for (const [lx, anchor, text] of labels) {
      const label = svg("text", { x: lx, y: height - 4, "text-anchor": anchor, class: "chart-label" });
      label.textContent = text;
      chart.append(label);
    }
    const peakLabel = svg("text", { x: pad.left, y: pad.top - 3, class: "chart-label" });
    peakLabel.textContent = `${peak}`;
    chart.append(peakLabel);
    box.append(chart);
  }

  function showToday(decisions) {
    const list = $("today");
    list.replaceChildren();
    const today = new Date().toISOString().slice(0, 10);
    const counts = Object.entries(decisions[today] || {}).sort((a, b) => b[1] - a[1]);
    if (!counts.length) {
      const li = document.createElement("li");
      li.className = "panel-note";
      li.textContent = "No decisions yet today.";
      list.append(li);
      return;
    }
    const most = counts[0][1] || 1;
    for (const [name, count] of counts) {
      const li = document.createElement("li");
      li.className = "today-row";
      const who = document.createElement("span");
      who.className = "today-name";
      who.textContent = name === body.dataset.moderator ? `${name} (you)` : name;
      const bar = document.createElement("span");
      bar.className = "today-bar";
      const fill = document.createElement("span");
      fill.className = "today-fill";
      // CSSOM is allowed by the page's style policy; style attributes in markup are not.
      fill.style.width = `${Math.max(4, (100 * count) / most)}%`;
      bar.append(fill);
      const n = document.createElement("span");
      n.className = "today-count";
      n.textContent = String(count);
      li.append(who, bar, n);
      list.append(li);
    }
  }

  // --- keyboard --------------------------------------------------------------------

  function onKey(event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if ($("help").open) return;
    const target = event.target;
    if (target.closest && target.closest("select, textarea, [contenteditable], input:not([type=checkbox])")) {
      return;
    }
    const key = event.key;
    const lower = key.length === 1 ? key.toLowerCase() : key;
    let handled = true;
    if (key === "?") {
      $("help").showModal();
    } else if (state.ended) {
      handled = false;
    } else if (event.shiftKey && ["a", "r", "s"].includes(lower)) {
      decideSelected({ a: "approve", r: "reject", s: "spam" }[lower]);
    } else if (lower === "a") {
      decideOne("approve");
    } else if (lower === "r") {
      decideOne("reject");
    } else if (lower === "s") {
      decideOne("spam");
    } else if (lower === "j") {
      setCurrent(state.current + 1);
    } else if (lower === "k") {
      setCurrent(state.current - 1);
    } else if (lower === "x") {
      const item = state.items[state.current];
      if (item) {
        toggleSelected(item.id, !state.selected.has(item.id));
        focusCurrent();
        announce(`${state.selected.has(item.id) ? "Selected" : "Unselected"} #${item.id}; ${state.selected.size} selected.`);
      }
    } else if (lower === "v") {
      setView(state.view === "list" ? "single" : "list");
    } else if (key === "Escape" && state.selected.size) {
      state.selected.clear();
      render();
      announce("Selection cleared.");
    } else {
      handled = false;
    }
    if (handled) event.preventDefault();
  }

  // --- wiring --------------------------------------------------------------------

  async function changeFilters(change = {}) {
    const status = $("filter-status").value;
    const order = $("filter-order").value;
    const thread = "thread" in change ? change.thread : state.thread;
    if (status === state.status && order === state.order && thread === state.thread) return;
    const held = state.items.map((item) => item.id);
    state.status = status;
    state.order = order;
    state.thread = thread;
    $("thread-filter").hidden = !thread;
    $("thread-name").textContent = thread || "";
    state.items = [];
    state.selected.clear();
    state.elements.clear();
    queueEl.replaceChildren();
    state.current = 0;
    state.dry = false;
    $("loading").hidden = false;
    render();
    // Released first: the new filter may claim some of the same comments again.
    await release(held);
    if (state.claiming) await state.claiming; // one made for the old filters
    claim();
  }

  $("filter-status").addEventListener("change", () => changeFilters());
  $("filter-order").addEventListener("change", () => changeFilters());
  $("thread-clear").addEventListener("click", () => changeFilters({ thread: null }));
  for (const button of document.querySelectorAll("[data-view]")) {
    button.addEventListener("click", () => setView(button.dataset.view));
  }
  for (const button of document.querySelectorAll("[data-bulk]")) {
    button.addEventListener("click", () => decideSelected(button.dataset.bulk));
  }
  $("clear-selection").addEventListener("click", () => {
    state.selected.clear();
    render();
  });
  $("prev").addEventListener("click", () => setCurrent(state.current - 1));
  $("next").addEventListener("click", () => setCurrent(state.current + 1));
  $("help-open").addEventListener("click", () => $("help").showModal());
  document.addEventListener("keydown", onKey);

  // Signing out hands the comments back first, so colleagues need not wait for leases.
  $("sign-out").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const ids = state.items.map((item) => item.id);
    state.items = [];
    await Promise.race([release(ids), new Promise((resolve) => setTimeout(resolve, 1500))]);
    form.submit();
  });
  window.addEventListener("pagehide", () => {
    release(
      state.items.map((item) => item.id),
      true,
    );
  });

  let chartWidth = 0;
  new ResizeObserver(([entry]) => {
    const width = Math.round(entry.contentRect.width);
    if (width !== chartWidth && chartPoints.length) drawChart(chartPoints);
    chartWidth = width;
  }).observe($("chart"));

  setInterval(renew, RENEW_MS);
  setInterval(() => {
    loadStats();
    if (state.items.length < LOW_WATER) {
      state.dry = false;
      refillIfLow();
    }
  }, POLL_MS);
  setInterval(() => {
    for (const item of state.items) {
      const when = state.elements.get(item.id)?.querySelector(".when");
      if (when) when.textContent = relativeTime(item.created_at);
    }
  }, 60 * 1000);

  render();
  claim().then(() => {
    focusCurrent();
    // A reload's previous page released its claims on the way out; should that release
    // reach the server after this page's claim, renewing soon takes them back.
    setTimeout(renew, 3000);
  });
  loadStats();
})();
