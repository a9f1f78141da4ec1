/* The embeddable comment thread and form.
 *
 * Host pages add exactly:
 *   <div id="comments" data-thread="THREAD-ID"></div>
 *   <script src="https://comments.example.com/embed.js" async></script>
 * Optional: data-refresh-seconds="20" (0 turns the periodic refresh off), data-lang="fa"
 * (else the page's <html lang>, else the browser's languages, else the service's default),
 * data-site="SITE-ID" (else the site that lists this page's origin).
 *
 * Everything renders into a shadow root on #comments, so page and widget styles never mix.
 * Only the comment `content` from the API (escaped text in <p>/<br>, made by the server)
 * is parsed as HTML, and even that through an allow-list; every other value is text.
 *
 * Its words are the service's gettext catalogues (the no-JS page's too), inlined below when
 * embed.js is served: only the strings passed to _() and ngettext() here are in them.
 */
(function () {
  "use strict";

  var script = document.currentScript || document.querySelector('script[src$="/embed.js"]');
  if (!script || !window.fetch || !document.head.attachShadow) {
    return;
  }
  var ORIGIN = new URL(script.src, location.href).origin;
  var API = ORIGIN + "/api/v1";
  var SAVED_KEY = "comments:commenter";
  var PAGE_SIZE = 50;
  var DEFAULT_REFRESH_SECONDS = 20;
  var FIELDS = ["content", "author", "email", "url"];
  // Every catalogue, its direction and plural rule: moderation/embed/assets.py puts them here.
  var I18N = /* catalogues */ { default: "en", languages: {} };
  var BIDI_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
  var sourcePlural = new Intl.PluralRules("en");
  var words = { code: "en", locale: "en", dir: "ltr", plural: null, messages: {} };
  var numberFormat;
  var relativeFormat;
  var exactFormat;

  /* The reader's language: the embedding element's data-lang, the page's lang, the browser's,
   * the service's default; the first a catalogue serves ("fa-IR" takes fa). */
  function chooseLanguage(host) {
    var tags = [host.getAttribute("data-lang"), document.documentElement.getAttribute("lang")]
      .concat(navigator.languages || [navigator.language])
      .concat([I18N.default, "en"]);
    for (var i = 0; i < tags.length; i++) {
      var tag = String(tags[i] || "").trim().replace(/_/g, "-");
      var code = tag.split("-")[0].toLowerCase();
      if (code && Object.prototype.hasOwnProperty.call(I18N.languages, code)) {
        var locale = code;
        try {
          locale = Intl.getCanonicalLocales(tag)[0] || code; // "fa-IR": its digits and calendar
        } catch (error) {
          locale = code;
        }
        return Object.assign({ code: code, locale: locale }, I18N.languages[code]);
      }
    }
    return words; // no catalogue served (the raw file): the source language
  }

  function useLanguage(chosen) {
    words = chosen;
    numberFormat = new Intl.NumberFormat(words.locale);
    relativeFormat = new Intl.RelativeTimeFormat(words.locale, { numeric: "auto" });
    exactFormat = new Intl.DateTimeFormat(words.locale, { dateStyle: "long", timeStyle: "short" });
  }

  /* Python's %(name)s placeholders, as translators see them in the catalogue. */
  function fill(text, params) {
    return text.replace(/%(?:\((\w+)\))?([sd%])/g, function (all, name, kind) {
      if (kind === "%") {
        return "%";
      }
      return params && name in params ? String(params[name]) : all;
    });
  }

  function _(msgid, params) {
    var text = words.messages[msgid];
    return fill(typeof text === "string" && text ? text : msgid, params);
  }

  function ngettext(singular, plural, n, params) {
    var forms = words.messages[singular];
    var index = Array.isArray(forms) && words.plural ? words.plural(n) : -1;
    var text = index >= 0 && forms[index] ? forms[index] : null;
    if (!text) {
      text = sourcePlural.select(n) === "one" ? singular : plural;
    }
    return fill(text, Object.assign({ num: numberFormat.format(n) }, params));
  }

  /* A wait in the largest whole unit, in the reader's language ("2 hours", "۲ ساعت"). */
  function duration(seconds) {
    var units = [["hour", 3600], ["minute", 60], ["second", 1]];
    for (var i = 0; i < units.length; i++) {
      if (seconds >= units[i][1] || units[i][0] === "second") {
        var n = Math.ceil(Math.max(seconds, 1) / units[i][1]);
        return new Intl.NumberFormat(words.locale, {
          style: "unit",
          unit: units[i][0],
          unitDisplay: "long",
        }).format(n);
      }
    }
    return "";
  }

  /* A message the API sent (a field's error), in the reader's language when it is known. */
  function apiMessage(message) {
    var text = words.messages[message];
    return typeof text === "string" && text ? text : message;
  }

  /* A translated message as nodes, where a placeholder may be an element (a name, a star). */
  function nodes(text, params) {
    var out = [];
    var last = 0;
    text.replace(/%\((\w+)\)s/g, function (all, name, offset) {
      out.push(text.slice(last, offset), name in params ? params[name] : all);
      last = offset + all.length;
      return all;
    });
    out.push(text.slice(last));
    return out.filter(function (part) {
      return part !== "";
    });
  }

  /* A commenter's name, isolated: whatever its direction, it cannot reorder the text around
   * it, and without bidi controls it cannot reorder (or disguise) itself. */
  function plainName(name) {
    return String(name || "").replace(BIDI_CONTROLS, "");
  }

  function bdi(name) {
    return el("bdi", {}, [plainName(name)]);
  }

  /* Small DOM builder: attributes via setAttribute, children as nodes or text. */
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === null || value === undefined || value === false) {
        return;
      }
      node.setAttribute(name, value === true ? "" : String(value));
    });
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) {
        node.append(typeof child === "string" ? document.createTextNode(child) : child);
      }
    });
    return node;
  }

  /* The server's safe HTML, rebuilt from an inert template keeping only <p> and <br>. */
  function contentNodes(html) {
    var template = document.createElement("template");
    template.innerHTML = String(html || "");
    var out = document.createDocumentFragment();
    (function copy(from, to) {
      from.childNodes.forEach(function (child) {
        if (child.nodeType === Node.TEXT_NODE) {
          to.append(document.createTextNode(child.data));
        } else if (child.nodeName === "P" || child.nodeName === "BR") {
          var clean = document.createElement(child.nodeName.toLowerCase());
          copy(child, clean);
          to.append(clean);
        } else if (child.nodeType === Node.ELEMENT_NODE) {
          to.append(document.createTextNode(child.textContent));
        }
      });
    })(template.content, out);
    return out;
  }

  function safeLink(url) {
    try {
      var parsed = new URL(url);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (error) {
      return null;
    }
  }

  function relativeTime(date, now) {
    var seconds = Math.min(0, Math.round((date - now) / 1000));
    var ago = -seconds;
    if (ago < 45) {
      return _("just now");
    }
    var steps = [
      ["minute", 60, 3600],
      ["hour", 3600, 86400],
      ["day", 86400, 86400 * 30],
      ["month", 86400 * 30, 86400 * 365],
      ["year", 86400 * 365, Infinity],
    ];
    for (var i = 0; i < steps.length; i++) {
      if (ago < steps[i][2]) {
        return relativeFormat.format(-Math.max(1, Math.round(ago / steps[i][1])), steps[i][0]);
      }
    }
    return "";
  }

  /* The same colour choice as the no-JS page: code points summed, modulo the palette. */
  function avatarClass(name) {
    var sum = 0;
    for (var ch of name) {
      sum += ch.codePointAt(0);
    }
    return "mc-avatar mc-av-" + (sum % 8);
  }

  function readSaved() {
    try {
      var saved = JSON.parse(localStorage.getItem(SAVED_KEY) || "null");
      return saved && typeof saved === "object" ? saved : null;
    } catch (error) {
      return null; // storage blocked (privacy settings, sandboxed frames): just no prefill
    }
  }

  var TRUST_KEY = "comments:trust:";
  var TRUST_KEPT = 5;

  function readTrust(site) {
    try {
      var tokens = JSON.parse(localStorage.getItem(TRUST_KEY + site) || "[]");
      return Array.isArray(tokens) ? tokens.filter(function (t) { return typeof t === "string"; }) : [];
    } catch (error) {
      return [];
    }
  }

  function writeTrust(site, token) {
    try {
      if (!token) {
        localStorage.removeItem(TRUST_KEY + site);
        return;
      }
      var tokens = readTrust(site).filter(function (t) { return t !== token; });
      tokens.push(token);
      localStorage.setItem(TRUST_KEY + site, JSON.stringify(tokens.slice(-TRUST_KEPT)));
    } catch (error) {
      /* storage blocked: no trust kept, comments go through review as usual */
    }
  }

  function writeSaved(details) {
    try {
      if (details) {
        localStorage.setItem(SAVED_KEY, JSON.stringify(details));
      } else {
        localStorage.removeItem(SAVED_KEY);
      }
    } catch (error) {
      /* storage blocked: nothing to save to */
    }
  }

  function Widget(host) {
    this.host = host;
    this.thread = host.getAttribute("data-thread") || "";
    this.site = host.getAttribute("data-site") || "";
    useLanguage(chooseLanguage(host));
    var refresh = parseFloat(host.getAttribute("data-refresh-seconds"));
    this.refreshMs =
      (isFinite(refresh) ? (refresh > 0 ? Math.max(refresh, 1) : 0) : DEFAULT_REFRESH_SECONDS) *
      1000;
    this.nodes = new Map(); // comment id -> {li, card, slot, replies, data, ...}
    this.local = new Map(); // comments posted from here that the thread does not list yet
    // Replies fetched with "Show more replies": parent id -> {items, cursor}. A thread page
    // carries only the first few replies of each comment, however many there are.
    this.extraReplies = new Map();
    this.items = [];
    this.total = 0;
    this.pages = 1;
    this.replyTo = null;
    this.stamp = null;
    this.busy = false;
    this.loaded = false;
    this.lastLoad = 0;
  }

  Widget.prototype.start = function () {
    var self = this;
    var root = this.host.attachShadow({ mode: "open" });
    var sheet = el("link", { rel: "stylesheet", href: ORIGIN + "/embed.css" });
    root.append(sheet);
    // Build once the stylesheet is in, so the reader never sees the unstyled form.
    var ready = function () {
      sheet.onload = sheet.onerror = null;
      root.append(self.build());
      if (!self.thread) {
        self.showLoadError(_("This page's comments are not set up (data-thread is missing)."));
        return;
      }
      self.restoreDetails();
      self.showReturnNotice();
      self.fetchStamp();
      self.load();
      self.scheduleRefresh();
    };
    sheet.onload = sheet.onerror = ready;
  };

  Widget.prototype.build = function () {
    var self = this;
    this.notice = el("p", { class: "mc-notice", role: "status", hidden: true });
    this.title = el("h2", { class: "mc-title", id: "mc-title" }, [_("Comments")]);
    this.empty = el("p", { class: "mc-loading" }, [_("Loading comments\u2026")]);
    this.list = el("ol", { class: "mc-list" });
    this.more = el("button", { type: "button", class: "mc-more", hidden: true }, [
      _("Show more comments"),
    ]);
    this.more.addEventListener("click", function () {
      self.pages += 1;
      self.load();
    });
    this.bottom = el("div", { class: "mc-respond-home" }, [this.buildForm()]);
    var sectionAttrs = {
      class: "mc",
      lang: words.locale,
      dir: words.dir,
      "aria-labelledby": "mc-title",
      "aria-busy": "true",
    };
    this.section = el("section", sectionAttrs, [
      this.notice,
      this.title,
      this.empty,
      this.list,
      this.more,
      this.bottom,
    ]);
    return this.section;
  };

  Widget.prototype.buildForm = function () {
    var self = this;
    var inputs = (this.inputs = {});
    var errors = (this.errors = {});
    function field(name, label, control, required) {
      inputs[name] = control;
      errors[name] = el("p", { class: "mc-error", id: "mc-" + name + "-error", hidden: true });
      control.addEventListener("input", function () {
        self.clearError(name);
      });
      return el("div", { class: "mc-field mc-field--" + name }, [
        el("label", { for: control.id }, [
          label,
          required ? " " : null,
          required ? el("span", { class: "mc-req", "aria-hidden": "true" }, ["*"]) : null,
        ]),
        control,
        errors[name],
      ]);
    }
    function input(name, type, autocomplete, maxlength, required) {
      return el("input", {
        id: "mc-" + name,
        name: name,
        type: type,
        class: "mc-input",
        autocomplete: autocomplete,
        maxlength: maxlength,
        required: required,
        spellcheck: type === "text" ? null : "false",
        dir: "auto", // what is typed takes its own direction, whatever the page's
      });
    }
    this.formTitle = el("h3", { class: "mc-form-title", id: "mc-form-title" }, [
      _("Leave a Reply"),
    ]);
    this.cancel = el("button", { type: "button", class: "mc-cancel", hidden: true }, [
      _("Cancel reply"),
    ]);
    this.cancel.addEventListener("click", function () {
      self.cancelReply(true);
    });
    this.honeypot = el("input", {
      id: "mc-homepage",
      name: "homepage",
      type: "text",
      tabindex: "-1",
      autocomplete: "off",
    });
    this.save = el("input", { id: "mc-save", type: "checkbox", name: "save" });
    this.save.addEventListener("change", function () {
      if (!self.save.checked) {
        writeSaved(null); // unticking forgets what this browser kept
      }
    });
    this.submitButton = el("button", { type: "submit", class: "mc-submit" }, [
      _("Post Comment"),
    ]);
    this.status = el("p", { class: "mc-status", role: "status", "aria-live": "polite" });
    var formAttrs = {
      class: "mc-form",
      novalidate: true,
      lang: words.locale,
      dir: words.dir,
      "aria-labelledby": "mc-form-title",
    };
    var star = el("span", { class: "mc-req", "aria-hidden": "true" }, ["*"]);
    this.form = el("form", formAttrs, [
      el("div", { class: "mc-form-head" }, [this.formTitle, this.cancel]),
      el(
        "p",
        { class: "mc-note" },
        [
          el("span", { id: "mc-email-note" }, [_("Your email address will not be published.")]),
          " ",
        ].concat(nodes(_("Required fields are marked %(star)s"), { star: star }))
      ),
      field(
        "content",
        _("Comment"),
        el("textarea", {
          id: "mc-content",
          name: "content",
          class: "mc-input",
          rows: "6",
          required: true,
          maxlength: "10000",
          dir: "auto",
        }),
        true
      ),
      el("div", { class: "mc-row" }, [
        field("author", _("Name"), input("author", "text", "name", "245", true), true),
        field("email", _("Email"), input("email", "email", "email", "254", true), true),
        field("url", _("Website"), input("url", "url", "url", "200", false), false),
      ]),
      el("div", { class: "mc-hp", "aria-hidden": "true" }, [
        el("label", { for: "mc-homepage" }, [_("Leave this field empty")]),
        this.honeypot,
      ]),
      el("p", { class: "mc-consent" }, [
        this.save,
        el("label", { for: "mc-save" }, [
          _("Save my name, email, and website in this browser for the next time I comment."),
        ]),
      ]),
      el("div", { class: "mc-submit-row" }, [this.submitButton, this.status]),
    ]);
    this.inputs.email.setAttribute("aria-describedby", "mc-email-note");
    this.form.addEventListener("submit", function (event) {
      event.preventDefault();
      self.submit();
    });
    this.form.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && self.replyTo !== null) {
        self.cancelReply(true);
      }
    });
    this.respond = el("div", { class: "mc-respond", id: "respond" }, [this.form]);
    return this.respond;
  };

  /* Loading and rendering the thread */

  Widget.prototype.threadUrl = function (cursor) {
    var url = API + "/threads/" + encodeURIComponent(this.thread) + "/comments?limit=" + PAGE_SIZE;
    if (this.site) {
      url += "&site=" + encodeURIComponent(this.site);
    }
    return cursor ? url + "&cursor=" + encodeURIComponent(cursor) : url;
  };

  Widget.prototype.load = function () {
    var self = this;
    if (this.loading) {
      return this.loading;
    }
    this.lastLoad = Date.now();
    this.loading = (async function () {
      var items = [];
      var total = 0;
      var cursor = null;
      for (var page = 0; page < self.pages; page++) {
        var response = await fetch(self.threadUrl(cursor), { credentials: "omit" });
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        var body = await response.json();
        items = items.concat(body.items);
        total = body.total;
        cursor = body.next_cursor;
        if (!cursor) {
          break;
        }
      }
      self.items = items;
      self.total = total;
      self.hasMore = Boolean(cursor);
      self.loaded = true;
      self.render();
    })()
      .catch(function () {
        // A refresh that fails keeps what is shown; only a first load says so.
        if (!self.loaded) {
          self.showLoadError(_("The comments could not be loaded. Please try again in a moment."));
        }
      })
      .finally(function () {
        self.loading = null;
        self.section.setAttribute("aria-busy", "false");
      });
    return this.loading;
  };

  Widget.prototype.showLoadError = function (message) {
    var self = this;
    var retry = el("button", { type: "button", class: "mc-reply" }, [_("Try again")]);
    retry.addEventListener("click", function () {
      self.empty.className = "mc-loading";
      self.empty.textContent = _("Loading comments\u2026");
      self.load();
    });
    this.empty.className = "mc-empty mc-notice mc-notice--error";
    this.empty.replaceChildren(message, " ", this.thread ? retry : "");
    this.empty.hidden = false;
    this.section.setAttribute("aria-busy", "false");
  };

  Widget.prototype.scheduleRefresh = function () {
    var self = this;
    if (!this.refreshMs) {
      return;
    }
    setInterval(function () {
      // Only while someone can see it: hidden tabs cost the service nothing.
      if (document.visibilityState === "visible") {
        self.load();
      }
    }, this.refreshMs);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible" && Date.now() - self.lastLoad > self.refreshMs) {
        self.load();
      }
    });
  };

  /* The thread as the API lists it, with this reader's not-yet-listed comments merged in. */
  Widget.prototype.tree = function () {
    var self = this;
    var byId = new Map();
    function copy(comment) {
      var node = Object.assign({}, comment, { replies: (comment.replies || []).map(copy) });
      byId.set(node.id, node);
      var extra = self.extraReplies.get(node.id);
      if (extra) {
        extra.items.forEach(function (reply) {
          if (!byId.has(reply.id)) {
            node.replies.push(copy(reply));
          }
        });
        node.replies_cursor = extra.cursor;
      }
      return node;
    }
    var roots = this.items.map(copy);
    this.local.forEach(function (comment, id) {
      if (byId.has(id)) {
        self.local.delete(id); // published (or approved): the thread's copy replaces ours
      }
    });
    this.local.forEach(function (comment) {
      var node = Object.assign({}, comment, { replies: [] });
      var parent = comment.parent !== null ? byId.get(comment.parent) : null;
      (parent ? parent.replies : roots).push(node);
      byId.set(node.id, node);
    });
    return roots;
  };

  Widget.prototype.render = function () {
    var self = this;
    var roots = this.tree();
    var seen = new Set();
    var now = Date.now();
    (function sync(list, comments) {
      comments.forEach(function (comment, index) {
        var entry = self.nodes.get(comment.id);
        if (!entry) {
          entry = self.createComment(comment);
          self.nodes.set(comment.id, entry);
        }
        self.updateComment(entry, comment, now);
        seen.add(comment.id);
        var current = list.children[index];
        if (current !== entry.li) {
          list.insertBefore(entry.li, current || null);
        }
        sync(entry.replies, comment.replies);
      });
    })(this.list, roots);
    this.nodes.forEach(function (entry, id) {
      if (!seen.has(id)) {
        if (entry.li.contains(self.respond)) {
          self.cancelReply(false);
        }
        entry.li.remove();
        self.nodes.delete(id);
      }
    });
    var published = this.total;
    this.local.forEach(function (comment) {
      if (comment.status === "published") {
        published += 1;
      }
    });
    this.title.textContent =
      published === 0
        ? _("Comments")
        : ngettext("%(num)s Comment", "%(num)s Comments", published);
    this.empty.className = "mc-empty";
    this.empty.textContent = _("No comments yet. Be the first to share your thoughts.");
    this.empty.hidden = roots.length > 0;
    this.more.hidden = !this.hasMore;
  };

  Widget.prototype.createComment = function (comment) {
    var self = this;
    var author = String(comment.author || "");
    var href = comment.url ? safeLink(comment.url) : null;
    var time = el("time", { datetime: comment.created_at });
    var badge = el("span", { class: "mc-badge" }, [_("Awaiting moderation")]);
    var replyAttrs = {
      type: "button",
      class: "mc-reply",
      "aria-label": _("Reply to %(name)s", { name: plainName(author) }),
    };
    var reply = el("button", replyAttrs, [_("Reply")]);
    reply.addEventListener("click", function () {
      self.startReply(comment.id);
    });
    var content = el("div", { class: "mc-content", dir: "auto" });
    content.append(contentNodes(comment.content));
    var card = el("article", { class: "mc-card" }, [
      el("span", { class: avatarClass(author), "aria-hidden": "true" }, [
        Array.from(plainName(author).trim())[0] || "?",
      ]),
      el("header", { class: "mc-meta" }, [
        el("span", { class: "mc-author" }, [
          href
            ? el("a", { href: href, rel: "nofollow ugc noopener", target: "_blank" }, [bdi(author)])
            : bdi(author),
        ]),
        el("span", { class: "mc-date" }, [time]),
        badge,
      ]),
      content,
      el("footer", { class: "mc-actions" }, [reply]),
    ]);
    var entry = {
      li: el("li", { class: "mc-comment", id: "comment-" + comment.id }, [card]),
      slot: el("div", { class: "mc-reply-slot" }),
      replies: el("ol", { class: "mc-list mc-replies" }),
      time: time,
      badge: badge,
      reply: reply,
      content: content,
      data: comment,
    };
    entry.moreReplies = el("button", { type: "button", class: "mc-more mc-more--replies" });
    entry.moreReplies.hidden = true;
    entry.moreReplies.addEventListener("click", function () {
      self.loadReplies(comment.id);
    });
    entry.li.append(entry.slot, entry.replies, entry.moreReplies);
    return entry;
  };

  Widget.prototype.loadReplies = async function (id) {
    var entry = this.nodes.get(id);
    if (!entry || !entry.data.replies_cursor || entry.moreReplies.disabled) {
      return;
    }
    entry.moreReplies.disabled = true;
    var url =
      API + "/comments/" + encodeURIComponent(id) + "/replies?limit=" + PAGE_SIZE +
      "&cursor=" + encodeURIComponent(entry.data.replies_cursor);
    try {
      var response = await fetch(url, { credentials: "omit" });
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      var body = await response.json();
      var extra = this.extraReplies.get(id) || { items: [] };
      extra.items = extra.items.concat(body.items);
      extra.cursor = body.next_cursor;
      this.extraReplies.set(id, extra);
      this.render();
    } catch (error) {
      this.say(_("More replies could not be loaded. Please try again in a moment."), "error");
    } finally {
      entry.moreReplies.disabled = false;
    }
  };

  Widget.prototype.updateComment = function (entry, comment, now) {
    var date = new Date(comment.created_at);
    var pending = comment.status !== undefined && comment.status !== "published";
    entry.time.textContent = relativeTime(date, now);
    entry.time.title = isNaN(date) ? "" : exactFormat.format(date);
    entry.badge.hidden = !pending;
    entry.reply.hidden = pending; // its replies could not show before it does
    entry.li.classList.toggle("mc-comment--pending", pending);
    var hidden = (comment.reply_count || 0) - (comment.replies || []).length;
    entry.moreReplies.hidden = !comment.replies_cursor;
    entry.moreReplies.textContent =
      hidden > 0
        ? _("Show more replies (%(num)s)", { num: numberFormat.format(hidden) })
        : _("Show more replies");
    if (comment.content !== entry.data.content) {
      entry.content.replaceChildren(contentNodes(comment.content));
    }
    entry.data = comment;
  };

  /* Replying */

  Widget.prototype.startReply = function (id) {
    var entry = this.nodes.get(id);
    if (!entry) {
      return;
    }
    this.replyTo = id;
    entry.slot.append(this.respond);
    this.formTitle.replaceChildren.apply(
      this.formTitle,
      nodes(_("Reply to %(name)s"), { name: bdi(entry.data.author) })
    );
    this.cancel.hidden = false;
    this.inputs.content.focus();
  };

  Widget.prototype.cancelReply = function (restoreFocus) {
    var entry = this.nodes.get(this.replyTo);
    this.replyTo = null;
    if (this.respond.parentNode !== this.bottom) {
      this.bottom.append(this.respond); // moving a form blurs it: only when it must move
    }
    this.formTitle.textContent = _("Leave a Reply");
    this.cancel.hidden = true;
    if (restoreFocus && entry) {
      entry.reply.focus();
    }
  };

  /* Posting */

  Widget.prototype.fetchStamp = function () {
    var self = this;
    return fetch(API + "/form-stamp", { credentials: "omit" })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (body) {
        self.stamp = body && body.stamp ? body.stamp : null;
      })
      .catch(function () {
        self.stamp = null; // posting still works; the comment just carries no stamp
      });
  };

  Widget.prototype.values = function () {
    var values = {};
    var inputs = this.inputs;
    FIELDS.forEach(function (name) {
      values[name] = name === "content" ? inputs[name].value : inputs[name].value.trim();
    });
    // People type "example.com": the service wants a full http(s) URL.
    if (values.url && !/^[a-z][a-z0-9+.-]*:/i.test(values.url)) {
      values.url = "https://" + values.url;
      inputs.url.value = values.url;
    }
    return values;
  };

  Widget.prototype.submit = async function () {
    if (this.busy) {
      return;
    }
    this.clearErrors();
    var values = this.values();
    var missing = {};
    var required = {
      content: _("Please write a comment."),
      author: _("Please enter your name."),
      email: _("Please enter your email address."),
    };
    Object.keys(required).forEach(function (name) {
      if (!values[name].trim()) {
        missing[name] = [required[name]];
      }
    });
    if (Object.keys(missing).length) {
      this.showErrors(missing);
      return;
    }
    var body = {
      thread: this.thread,
      author: values.author,
      email: values.email,
      content: values.content,
      homepage: this.honeypot.value,
    };
    if (values.url) {
      body.url = values.url;
    }
    if (this.replyTo !== null) {
      body.parent = this.replyTo;
    }
    if (this.stamp) {
      body.stamp = this.stamp;
    }
    if (this.site) {
      body.site = this.site;
    }
    var trust = readTrust(this.site);
    if (trust.length) {
      body.trust_token = trust[0]; // the oldest: the likeliest to be approved by now
    }
    this.setBusy(true);
    var response;
    try {
      response = await fetch(API + "/comments", {
        method: "POST",
        credentials: "omit",
        // The same key until the comment is taken: a retry after a timeout or a 503 (the
        // comment may have been stored) answers the first comment instead of a second one.
        headers: { "Content-Type": "application/json", "Idempotency-Key": this.attemptKey() },
        body: JSON.stringify(body),
      });
    } catch (error) {
      this.setBusy(false);
      this.say([unanswered(), _("Please try again.")].join(" "), "error");
      return;
    }
    try {
      if (response.status === 201) {
        this.posted(await response.json(), values);
      } else {
        await this.failed(response);
      }
    } finally {
      this.setBusy(false);
    }
  };

  /* A timeout may come after the comment was stored: never say it was not saved. */
  function unanswered() {
    return _(
      "The comment service did not answer, so we cannot tell whether your comment was saved. " +
        "Nothing you typed is lost, and sending it again is safe: it will not be posted twice."
    );
  }

  Widget.prototype.attemptKey = function () {
    if (!this.idempotencyKey) {
      var random = new Uint8Array(16);
      window.crypto.getRandomValues(random);
      this.idempotencyKey = Array.prototype.map
        .call(random, function (b) {
          return (b + 256).toString(16).slice(1);
        })
        .join("");
    }
    return this.idempotencyKey;
  };

  Widget.prototype.setBusy = function (busy) {
    this.busy = busy;
    this.submitButton.disabled = busy;
    this.submitButton.textContent = busy ? _("Posting\u2026") : _("Post Comment");
    if (busy) {
      this.say("", null);
    }
  };

  Widget.prototype.posted = function (comment, values) {
    this.idempotencyKey = null; // the next comment is a new submission
    if (this.save.checked) {
      writeSaved({ author: values.author, email: values.email, url: values.url });
      // Kept only with the reader's consent, like their details: once this comment is
      // approved, the token lets their next ones skip review (moderation/trust.py).
      if (comment.trust_token) {
        writeTrust(this.site, comment.trust_token);
      }
    } else {
      writeTrust(this.site, null);
    }
    this.inputs.content.value = "";
    this.local.set(comment.id, comment);
    var wasReply = this.replyTo !== null;
    this.cancelReply(false);
    this.render();
    var entry = this.nodes.get(comment.id);
    if (entry) {
      entry.li.classList.add("mc-comment--new");
      if (wasReply) {
        // The form went back to the end of the thread; keep the reader by their reply.
        entry.li.setAttribute("tabindex", "-1");
        entry.li.focus();
      } else {
        entry.li.scrollIntoView({ block: "nearest", behavior: "smooth" });
      }
    }
    if (comment.status === "published") {
      this.say(_("Thank you! Your comment has been published."), "ok");
    } else {
      this.say(_("Thank you! Your comment is awaiting moderation."), "pending");
    }
    this.fetchStamp();
  };

  Widget.prototype.failed = async function (response) {
    var error = {};
    try {
      error = (await response.json()).error || {};
    } catch (parseError) {
      error = {};
    }
    var wait = parseInt(response.headers.get("Retry-After") || "", 10);
    var status = response.status;
    if (status === 422 && error.fields) {
      var shown = {};
      var other = [];
      Object.keys(error.fields).forEach(function (name) {
        var messages = [].concat(error.fields[name]).map(String).map(apiMessage);
        if (FIELDS.indexOf(name) >= 0) {
          shown[name] = messages;
        } else if (name === "parent") {
          other.push(_("The comment you are replying to is not available any more."));
        } else {
          other.push(messages.join(" "));
        }
      });
      this.showErrors(shown, other.join(" "));
    } else if (status === 409 && error.code === "duplicate") {
      this.say(apiMessage(String(error.message)), "error");
    } else if (status === 429 && (error.code === "too_many_pending" || wait >= 120)) {
      // A wait of hours (the cap on held comments): said in hours, not thousands of seconds.
      var message = error.code === "too_many_pending" ? apiMessage(String(error.message)) : "";
      this.say(
        [message, _("Please wait %(wait)s, then try again. Nothing you typed is lost.", {
          wait: duration(wait),
        })].filter(Boolean).join(" "),
        "error"
      );
    } else if (status === 429) {
      this.say(
        wait > 0
          ? ngettext(
              "You are posting too quickly. Please wait %(num)s second, then try again. " +
                "Nothing you typed is lost.",
              "You are posting too quickly. Please wait %(num)s seconds, then try again. " +
                "Nothing you typed is lost.",
              wait
            )
          : _(
              "You are posting too quickly. Please wait a moment, then try again. " +
                "Nothing you typed is lost."
            ),
        "error"
      );
    } else if (status === 503 || status === 502 || status === 504) {
      var again =
        wait > 0
          ? ngettext("Please try again in %(num)s second.", "Please try again in %(num)s seconds.", wait)
          : _("Please try again shortly.");
      this.say([unanswered(), again].join(" "), "error");
    } else if (status === 413) {
      this.showErrors({ content: [_("Your comment is too long.")] });
    } else if (status === 403) {
      this.say(_("Comments cannot be posted from this page (its site is not allowed)."), "error");
    } else {
      this.say(
        [
          error.message ? apiMessage(String(error.message)) : _("Something went wrong."),
          _("Nothing you typed is lost. Please try again."),
        ].join(" "),
        "error"
      );
    }
  };

  /* Messages and field errors */

  Widget.prototype.say = function (message, kind) {
    this.status.className = "mc-status" + (kind ? " mc-status--" + kind : "");
    this.status.textContent = message;
  };

  Widget.prototype.showErrors = function (fields, extra) {
    var self = this;
    var first = null;
    FIELDS.forEach(function (name) {
      if (!fields[name]) {
        return;
      }
      var control = self.inputs[name];
      self.errors[name].textContent = fields[name].join(" ");
      self.errors[name].hidden = false;
      control.setAttribute("aria-invalid", "true");
      var describedBy = (control.getAttribute("aria-describedby") || "").split(" ");
      if (describedBy.indexOf(self.errors[name].id) < 0) {
        describedBy.unshift(self.errors[name].id);
      }
      control.setAttribute("aria-describedby", describedBy.join(" ").trim());
      first = first || control;
    });
    var count = Object.keys(fields).length;
    var summary = count
      ? ngettext(
          "Please correct the field marked below.",
          "Please correct the fields marked below.",
          count
        )
      : "";
    this.say([summary, extra || ""].join(" ").trim(), "error");
    if (first) {
      first.focus();
    }
  };

  Widget.prototype.clearError = function (name) {
    var control = this.inputs[name];
    var error = this.errors[name];
    if (error.hidden) {
      return;
    }
    error.hidden = true;
    error.textContent = "";
    control.removeAttribute("aria-invalid");
    var describedBy = (control.getAttribute("aria-describedby") || "")
      .split(" ")
      .filter(function (id) {
        return id && id !== error.id;
      });
    if (describedBy.length) {
      control.setAttribute("aria-describedby", describedBy.join(" "));
    } else {
      control.removeAttribute("aria-describedby");
    }
  };

  Widget.prototype.clearErrors = function () {
    var self = this;
    FIELDS.forEach(function (name) {
      self.clearError(name);
    });
  };

  /* Saved details and the no-JS form's return notice */

  Widget.prototype.restoreDetails = function () {
    var saved = readSaved();
    if (!saved) {
      return;
    }
    var inputs = this.inputs;
    ["author", "email", "url"].forEach(function (name) {
      if (typeof saved[name] === "string") {
        inputs[name].value = saved[name];
      }
    });
    this.save.checked = true;
  };

  Widget.prototype.showReturnNotice = function () {
    // The service's no-JS form sends readers back here with ?comment_status=...
    var status = new URLSearchParams(location.search).get("comment_status");
    if (status === "published") {
      this.notice.textContent = _("Thank you! Your comment has been published.");
    } else if (status === "pending") {
      this.notice.textContent = _("Thank you! Your comment is awaiting moderation.");
      this.notice.classList.add("mc-notice--pending");
    } else {
      return;
    }
    this.notice.hidden = false;
  };

  function start() {
    var host = document.getElementById("comments");
    if (host && !host.shadowRoot) {
      new Widget(host).start();
    }
  }

  if (document.getElementById("comments")) {
    start();
  } else {
    document.addEventListener("DOMContentLoaded", start);
  }
})();
