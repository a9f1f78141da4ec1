/* The review queue page.
 *
 * Everything comes from the moderation API with the session cookie; state-changing calls
 * carry the page's CSRF token. Comment text arrives as already-escaped HTML and is only
 * ever inserted as a comment's body, after a second pass that keeps nothing but paragraphs,
 * line breaks and text. Every other value from the API goes in through textContent.
 *
 * Its words come from the service's gettext catalogue (the same one the templates use), which
 * /moderate/i18n/<lang>.js sets as window.moderationI18n before this script runs: only the
 * strings passed to _() and ngettext() here are in it (Babel's extractor finds them).
 */
(() => {
  "use strict";

  // --- the page's language ---------------------------------------------------------

  const LOCALE = document.documentElement.lang || "en";
  const RTL = document.documentElement.dir === "rtl";
  // Without its catalogue (a failed load) the page still works, in the source language.
  const catalogue = window.moderationI18n || { plural: () => -1, messages: {} };
  const sourcePlural = new Intl.PluralRules("en");
  const numberFormat = new Intl.NumberFormat(LOCALE);
  const number = (n) => numberFormat.format(n);

  // Python's %(name)s placeholders, as the catalogue's translators see them.
  const fill = (text, params = {}) =>
    text.replace(/%(?:\((\w+)\))?([sd%])/g, (all, name, kind) =>
      kind === "%" ? "%" : name in params ? String(params[name]) : all,
    );

  function _(msgid, params) {
    const text = catalogue.messages[msgid];
    return fill(typeof text === "string" && text ? text : msgid, params);
  }

  function ngettext(singular, plural, n, params = {}) {
    const forms = catalogue.messages[singular];
    const index = Array.isArray(forms) ? catalogue.plural(n) : -1;
    const source = sourcePlural.select(n) === "one" ? singular : plural;
    return fill(index >= 0 && forms[index] ? forms[index] : source, { num: number(n), ...params });
  }

  // TRANSLATORS: joins the parts of one announcement: "Approved 3 comments; 1 already decided".
  const SEMICOLON = _("; ");

  const API = "/api/v1/moderation";
  const BATCH = 20; // comments claimed at a time
  const LOW_WATER = 5; // claim more when fewer than this many are left
  const RENEW_MS = 2 * 60 * 1000; // leases last five minutes
  const POLL_MS = 30 * 1000; // stats, and new comments once the queue ran dry
  const SVG = "http://www.w3.org/2000/svg";
  const STATUS_WORDS = {
    published: _("published"),
    pending: _("held for review"),
    spam: _("spam"),
    rejected: _("rejected"),
  };

  // Whole sentences per action: translations may need to word each differently.
  function decidedOne(action, id) {
    if (action === "approve") return _("Approved #%(id)s", { id });
    if (action === "reject") return _("Rejected #%(id)s", { id });
    return _("Marked as spam #%(id)s", { id });
  }

  function decidedMany(action, n) {
    if (action === "approve") return ngettext("Approved %(num)s comment", "Approved %(num)s comments", n);
    if (action === "reject") return ngettext("Rejected %(num)s comment", "Rejected %(num)s comments", n);
    return ngettext("Marked as spam %(num)s comment", "Marked as spam %(num)s comments", n);
  }

  const body = document.body;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const SITE = document.body.dataset.site || "default";
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
    const headers = { Accept: "application/json", "X-Moderation-Site": SITE };
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
    (result.status
      ? _("The server answered %(status)s.", { status: result.status })
      : _("The server could not be reached."));

  function sessionEnded() {
    if (state.ended) return;
    state.ended = true;
    $("session-ended").hidden = false;
    announce(_("Your session has ended. Sign in again to continue."));
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
        if (result.status !== 401) {
          announce(_("Could not load comments: %(error)s", { error: errorText(result) }));
        }
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
          ? _("#%(id)s left your queue: another moderator has it, or it was decided.", { id: lost[0] })
          : ngettext(
              "%(num)s comment left your queue: other moderators have them, or they were decided.",
              "%(num)s comments left your queue: other moderators have them, or they were decided.",
              lost.length,
            ),
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
          ? _("#%(id)s was already %(status)s.", {
              id: item.id,
              status: STATUS_WORDS[answer.status] || answer.status,
            })
          : decidedOne(action, item.id),
      );
    } else if (result.status === 409) {
      announce(_("#%(id)s is being reviewed by another moderator.", { id: item.id }));
    } else if (result.status === 404) {
      announce(_("#%(id)s no longer exists.", { id: item.id }));
    } else {
      restore(dropped);
      render();
      if (result.status !== 401) {
        announce(_("#%(id)s was not changed: %(error)s", { id: item.id, error: errorText(result) }));
      }
      return;
    }
    afterDecisions();
  }

  async function decideSelected(action) {
    const ids = state.items.filter((item) => state.selected.has(item.id)).map((item) => item.id);
    if (!ids.length) {
      announce(_("Nothing is selected. Select comments with X first."));
      return;
    }
    const dropped = ids.map(drop);
    render(true);
    const result = await api("POST", "/decisions", { ids, action });
    if (!result.ok) {
      dropped.reverse().forEach(restore);
      render();
      if (result.status !== 401) {
        announce(_("Nothing was changed: %(error)s", { error: errorText(result) }));
      }
      return;
    }
    const outcomes = result.data.results;
    const count = (outcome) => outcomes.filter((r) => r.outcome === outcome).length;
    const decided = outcomes.filter((r) => r.outcome === "decided");
    const parts = [
      decided.length === 1 ? decidedOne(action, decided[0].id) : decidedMany(action, decided.length),
    ];
    const already = count("already_decided");
    const conflicts = count("conflict");
    if (already) parts.push(ngettext("%(num)s already decided", "%(num)s already decided", already));
    if (conflicts) {
      parts.push(
        ngettext("%(num)s held by another moderator", "%(num)s held by another moderator", conflicts),
      );
    }
    announce(parts.join(SEMICOLON) + ".");
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
    if (score === null || score === undefined) return { key: "none", words: _("Not scored") };
    if (score >= likelySpamFrom) return { key: "spam", words: _("Likely spam") };
    if (score < likelyFineBelow) return { key: "fine", words: _("Likely fine") };
    return { key: "unsure", words: _("Unsure") };
  }

  const percentFormat = new Intl.NumberFormat(LOCALE, { style: "percent" });
  const listFormat = new Intl.ListFormat(LOCALE, { type: "unit", style: "short" });
  const percent = (score) => percentFormat.format(score);

  function duration(seconds) {
    const minutes = Math.floor(seconds / 60);
    if (minutes < 1) return _("under a minute");
    const inMinutes = (n) => ngettext("%(num)s min", "%(num)s min", n);
    if (minutes < 60) return inMinutes(minutes);
    const hours = Math.floor(minutes / 60);
    const inHours = ngettext("%(num)s h", "%(num)s h", hours);
    if (hours < 48) {
      return minutes % 60
        ? _("%(hours)s %(minutes)s", { hours: inHours, minutes: inMinutes(minutes % 60) })
        : inHours;
    }
    return ngettext("%(num)s day", "%(num)s days", Math.floor(hours / 24));
  }

  function relativeTime(iso) {
    const then = Date.parse(iso);
    if (Number.isNaN(then)) return "";
    const minutes = Math.round((Date.now() - then) / 60000);
    if (minutes < 1) return _("just now");
    if (minutes < 60) return ngettext("%(num)s min ago", "%(num)s min ago", minutes);
    const hours = Math.round(minutes / 60);
    if (hours < 24) return ngettext("%(num)s h ago", "%(num)s h ago", hours);
    const days = Math.round(hours / 24);
    return ngettext("%(num)s day ago", "%(num)s days ago", days);
  }

  // Hosts arrive as typed; an internationalised one typed as punycode is shown in its own
  // script (RFC 3492 decoding: browsers turn Unicode hosts into punycode, never back).
  function punycodeLabel(label) {
    const base = 36;
    const digits = label.slice(label.lastIndexOf("-") + 1);
    const output = Array.from(label.slice(0, Math.max(0, label.lastIndexOf("-"))), (c) =>
      c.codePointAt(0),
    );
    let n = 128;
    let i = 0;
    let bias = 72;
    let at = 0;
    while (at < digits.length) {
      const old = i;
      for (let w = 1, k = base; ; k += base) {
        const c = at < digits.length ? digits.charCodeAt(at++) : -1;
        const digit =
          c >= 48 && c <= 57 ? c - 22 : c >= 65 && c <= 90 ? c - 65 : c >= 97 && c <= 122 ? c - 97 : base;
        if (digit >= base) throw new RangeError("punycode");
        i += digit * w;
        const t = k <= bias ? 1 : k >= bias + 26 ? 26 : k - bias;
        if (digit < t) break;
        w *= base - t;
      }
      let delta = old === 0 ? Math.floor((i - old) / 700) : (i - old) >> 1;
      delta += Math.floor(delta / (output.length + 1));
      let k = 0;
      for (; delta > 455; k += base) delta = Math.floor(delta / 35);
      bias = k + Math.floor((36 * delta) / (delta + 38));
      n += Math.floor(i / (output.length + 1));
      i %= output.length + 1;
      output.splice(i++, 0, n);
    }
    return String.fromCodePoint(...output);
  }

  function readableUrl(url) {
    const match = /^(https?:\/\/)([^/?#:]+)(.*)$/i.exec(String(url));
    if (!match) return String(url);
    try {
      const host = match[2]
        .split(".")
        .map((label) => (/^xn--/i.test(label) ? punycodeLabel(label.slice(4)) : label))
        .join(".");
      return match[1] + host + match[3];
    } catch {
      return String(url);
    }
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
    too_many_links: { words: _("Links"), kind: "links" },
    links: { words: _("Links"), kind: "links" },
    honeypot: { words: _("Honeypot filled"), kind: "honeypot" },
    too_fast: { words: _("Sent too fast"), kind: "fast" },
    word_list: { words: _("Word list"), kind: "words" },
    disallowed_words: { words: _("Disallowed words"), kind: "words" },
    blocked_ip: { words: _("Blocked address"), kind: "blocked" },
    trusted_author: { words: _("Trusted author"), kind: "trusted" },
  };

  // A rule's detail in the page's language, from its values; records written before rules
  // carried values keep their English sentence.
  function ruleDetail(hit) {
    const params = hit.params || {};
    if (hit.rule === "too_many_links" && params.links !== undefined) {
      return ngettext("%(num)s link (limit %(limit)s)", "%(num)s links (limit %(limit)s)",
        Number(params.links), { limit: number(params.limit) });
    }
    if (hit.rule === "too_fast" && params.forged) return _("the form stamp is invalid or forged");
    if (hit.rule === "too_fast" && params.seconds !== undefined) {
      return _("sent %(seconds)s s after the form was shown (minimum %(minimum)s s)", {
        seconds: number(params.seconds),
        minimum: number(params.minimum),
      });
    }
    if (hit.rule === "honeypot") return _("a field hidden from people was filled in");
    if (hit.rule === "blocked_ip" && params.network) {
      return _("the address is in %(network)s", { network: params.network });
    }
    if (hit.rule === "trusted_author" && params.comment !== undefined) {
      return _("comment %(id)s of this commenter was approved", { id: number(params.comment) });
    }
    return hit.detail;
  }

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
      extra.dir = "auto"; // words from the comment, or an English detail of an old record
      extra.textContent = detail;
      li.append(extra);
    }
    return li;
  }

  // The classifier's payload signals (classifier/features.py CommentMetadata.names).
  const SIGNALS = {
    links: _("links"),
    link_domains: _("link domains"),
    url_in_author: _("link in the name"),
    phone_number: _("phone number"),
    email_in_text: _("email address"),
    money: _("money"),
    log_length: _("length"),
    markup_links: _("links in markup"),
    spelled_phone: _("phone number in words"),
    contact_handle: _("messenger contact"),
    site_in_text: _("website repeated in the text"),
    reference_links: _("links to references only"),
    site_named_after_author: _("website named after the author"),
  };

  // The identity branch's tokens for where a comment points (classifier/features.py
  // link_tokens): "link_html", "link_tld_xyz", "link_host_loans", "anchor_cheap"...
  // Anything else there is a word of the author's name or website.
  function identityWords(name) {
    let m;
    if ((m = /^(?:link|site)_tld_(.+)$/.exec(name))) {
      return { text: _("link domain: %(word)s", { word: `.${m[1]}` }), kind: "signal" };
    }
    if ((m = /^(?:link|site)_host_(.+)$/.exec(name))) {
      return { text: _("link domain: %(word)s", { word: m[1] }), kind: "signal" };
    }
    if ((m = /^(?:link|site)_path_(.+)$/.exec(name))) {
      return { text: _("link path: %(word)s", { word: m[1] }), kind: "signal" };
    }
    if ((m = /^anchor_(.+)$/.exec(name))) {
      return { text: _("link text: %(word)s", { word: m[1] }), kind: "signal" };
    }
    if (name === "link_has_path" || name === "site_has_path") {
      return { text: _("link to an inner page"), kind: "signal" };
    }
    if (name === "link_shortener") return { text: _("link shortener"), kind: "signal" };
    if (name === "link_ip") return { text: _("link to an IP address"), kind: "signal" };
    if (/^link_[a-z]+$/.test(name)) return { text: _("links"), kind: "signal" };
    return { text: _("name/site: %(name)s", { name }), kind: "identity" };
  }

  // "words:free" -> "free"; "meta:link_domains" -> "link domains".
  function featureWords(feature) {
    const [kind, ...rest] = String(feature).split(":");
    const name = rest.join(":") || kind;
    if (kind === "meta") {
      return { text: SIGNALS[name] || name.replace(/^log_/, "").replace(/_/g, " "), kind: "signal" };
    }
    if (kind === "chars") return { text: `“${name.trim()}”`, kind: "letters" };
    if (kind === "identity") return identityWords(name);
    return { text: name, kind: "word" };
  }

  function historyText(commenter) {
    const total = commenter && commenter.comments;
    if (!total) return _("No history");
    if (total <= 1) return _("First comment");
    const counted = {
      published: (n) => ngettext("%(num)s published", "%(num)s published", n),
      pending: (n) => ngettext("%(num)s held for review", "%(num)s held for review", n),
      spam: (n) => ngettext("%(num)s spam", "%(num)s spam", n),
      rejected: (n) => ngettext("%(num)s rejected", "%(num)s rejected", n),
    };
    const parts = Object.keys(counted)
      .filter((status) => commenter[status])
      .map((status) => counted[status](commenter[status]));
    if (!parts.length) return ngettext("%(num)s comment", "%(num)s comments", total);
    return ngettext("%(num)s comment: %(parts)s", "%(num)s comments: %(parts)s", total, {
      parts: listFormat.format(parts),
    });
  }

  // Addresses read left to right on any page; isolated, they leave the line's order alone
  // (the separators between them stay where the page's direction puts them).
  function isolated(text, dir) {
    const bdi = document.createElement("bdi");
    bdi.dir = dir;
    bdi.textContent = text;
    return bdi;
  }

  function techRow(list, label, value) {
    if (value === null || value === undefined || value === "") return;
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.dir = "auto"; // an address, a user agent: in their own direction
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
      q(".band").title = _("Spam probability %(percent)s", { percent: percent(item.score) });
    }
    q(".author").textContent = item.author;
    q(".item-id").textContent = `#${item.id}`;
    q(".select-label").textContent = _("Select #%(id)s", { id: item.id });
    const when = q(".when");
    when.dateTime = item.created_at || "";
    when.textContent = relativeTime(item.created_at);
    when.title = item.created_at ? new Date(item.created_at).toLocaleString(LOCALE) : "";
    q(".email").append(isolated(item.email || _("email unreadable"), item.email ? "ltr" : "auto"));
    if (item.url) {
      const website = q(".website");
      website.append(isolated(readableUrl(item.url), "ltr"));
      if (website.textContent !== item.url) website.title = item.url;
    } else {
      q(".website").remove();
    }
    q(".thread").textContent = item.thread;
    q(".thread").addEventListener("click", () => changeFilters({ thread: item.thread }));

    const markers = q(".markers");
    const words = [];
    for (const hit of item.rules || []) {
      const known = RULES[hit.rule] || { words: String(hit.rule).replace(/_/g, " "), kind: "other" };
      if (known.kind === "words") {
        const found = hit.params && Array.isArray(hit.params.words)
          ? hit.params.words.map(String)
          : listedWords(hit.detail);
        words.push(...found);
        markers.append(marker(known.words, known.kind, listFormat.format(found)));
      } else {
        markers.append(marker(known.words, known.kind, ruleDetail(hit)));
      }
    }
    if (item.commenter && item.commenter.comments <= 1) {
      markers.append(marker(_("New commenter"), "new", ""));
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
      const towardsWords = towards === "spam" ? _("towards spam") : _("towards fine");
      const shown = featureWords(reason.feature);
      li.className = `reason reason-${towards}`;
      li.title = `${reason.feature}: ${reason.weight > 0 ? "+" : ""}${reason.weight} (${towardsWords})`;
      const arrow = document.createElement("span");
      arrow.className = "reason-arrow";
      arrow.setAttribute("aria-hidden", "true");
      arrow.textContent = reason.weight > 0 ? "▲" : "▼";
      const text = document.createElement("span");
      text.textContent = shown.text;
      const hint = document.createElement("span");
      hint.className = "visually-hidden";
      hint.textContent = ` (${towardsWords})`;
      li.append(arrow, text, hint);
      reasons.append(li);
    }
    if (!ranked.length) q(".reasons").remove();
    q(".history-text").textContent = historyText(item.commenter);

    const tech = q(".tech-list");
    techRow(tech, _("Spam probability"), item.score === null ? null : percent(item.score));
    techRow(tech, _("Model"), item.model_version);
    techRow(tech, _("Classifier said"), item.machine_status && STATUS_WORDS[item.machine_status]);
    techRow(tech, _("IP address"), item.ip);
    techRow(tech, _("Browser"), item.user_agent);
    techRow(tech, _("Came from"), item.referrer);
    techRow(tech, _("Reply to"), item.parent ? `#${item.parent}` : null);

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
    $("position").textContent = empty
      ? ""
      : _("%(index)s of %(count)s", {
          index: number(state.current + 1),
          count: number(state.items.length),
        });
    $("prev").disabled = state.current <= 0;
    $("next").disabled = state.current >= state.items.length - 1;
    const count = state.selected.size;
    $("bulkbar").hidden = count === 0;
    $("selected-count").textContent = ngettext("%(num)s selected", "%(num)s selected", count);
    $("reserved").textContent = empty
      ? ""
      : ngettext(
          "%(num)s comment reserved for you; other moderators get different ones.",
          "%(num)s comments reserved for you; other moderators get different ones.",
          state.items.length,
        );
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
      $(`count-${status}`).textContent = value === undefined ? "–" : number(value);
    }
    const age = stats.oldest_pending_age_seconds;
    $("oldest").textContent =
      age === null || age === undefined
        ? _("Nothing is waiting.")
        : _("The oldest has waited %(duration)s.", { duration: duration(age) });
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
      p.textContent = _("No history yet.");
      box.append(p);
      return;
    }
    // Drawn at the panel's own width: a stretched drawing would distort its text and dot.
    const width = Math.max(160, Math.round(box.clientWidth || 300));
    const height = 96;
    const pad = { top: 12, right: 8, bottom: 18, left: 8 };
    const values = points.map((point) => Number(point.pending) || 0);
    const peak = Math.max(...values, 1);
    // Time runs the way the page reads: right to left in Persian and Arabic.
    const along = (i) => (i * (width - pad.left - pad.right)) / Math.max(values.length - 1, 1);
    const x = (i) => (RTL ? width - pad.right - along(i) : pad.left + along(i));
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
    const summary = _(
      "Held for review over the last 24 hours: %(first)s a day ago, peak %(peak)s, %(now)s now.",
      { first: number(values[0]), peak: number(Math.max(...values)), now: number(now) },
    );
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
      const time = at.toLocaleTimeString(LOCALE, { hour: "2-digit", minute: "2-digit" });
      tip.textContent = ngettext("%(time)s: %(num)s waiting", "%(time)s: %(num)s waiting", value, {
        time,
      });
      hour.append(tip);
      chart.append(hour);
    });
    // text-anchor follows the text's direction: "start" is the right edge of RTL text.
    const first = RTL ? width - pad.right : pad.left;
    const last = RTL ? pad.left : width - pad.right;
    const labels = [
      [first, "start", _("24 h ago")],
      [last, "end", _("now")],
    ];
    for (const [lx, anchor, text] of labels) {
      const label = svg("text", { x: lx, y: height - 4, "text-anchor": anchor, class: "chart-label" });
      label.textContent = text;
      chart.append(label);
    }
    const peakLabel = svg("text", { x: first, y: pad.top - 3, class: "chart-label" });
    peakLabel.textContent = number(peak);
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
      li.textContent = _("No decisions yet today.");
      list.append(li);
      return;
    }
    const most = counts[0][1] || 1;
    for (const [name, count] of counts) {
      const li = document.createElement("li");
      li.className = "today-row";
      const who = document.createElement("span");
      who.className = "today-name";
      const isolated = document.createElement("bdi");
      isolated.textContent = name;
      if (name === body.dataset.moderator) {
        const [before, after] = _("%(name)s (you)").split("%(name)s");
        who.append(before || "", isolated, after || "");
      } else {
        who.append(isolated);
      }
      const bar = document.createElement("span");
      bar.className = "today-bar";
      const fill = document.createElement("span");
      fill.className = "today-fill";
      // CSSOM is allowed by the page's style policy; style attributes in markup are not.
      fill.style.width = `${Math.max(4, (100 * count) / most)}%`;
      bar.append(fill);
      const n = document.createElement("span");
      n.className = "today-count";
      n.textContent = number(count);
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
    // Shortcuts are Latin letters; on a layout without them (Persian, Arabic) the same keys
    // type other letters, so the key's position decides.
    const latin = /^Key[A-Z]$/.test(event.code) ? event.code.slice(3).toLowerCase() : null;
    const key = event.key === "؟" ? "?" : event.key;
    const typed = key.length === 1 ? key.toLowerCase() : key;
    const lower = latin && !/^[a-z]$/.test(typed) ? latin : typed;
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
        const done = state.selected.has(item.id)
          ? _("Selected #%(id)s", { id: item.id })
          : _("Unselected #%(id)s", { id: item.id });
        const size = state.selected.size;
        announce([done, ngettext("%(num)s selected", "%(num)s selected", size)].join(SEMICOLON) + ".");
      }
    } else if (lower === "v") {
      setView(state.view === "list" ? "single" : "list");
    } else if (key === "Escape" && state.selected.size) {
      state.selected.clear();
      render();
      announce(_("Selection cleared."));
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
