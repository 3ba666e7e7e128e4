// Session timeout warning and drafts of long forms (issue #8 item 13). A static file: no inline script (CSP).
//
// Clock. templates/accounts/_session.html renders #session-clock with the seconds the session has left
// (xueji/accounts/session_clock.py). Before it warns, the page asks data-status, which does not renew the
// session, because another tab may have renewed it. The warning is a banner that blocks nothing, with
// 继续使用 (a POST that renews the session) and 退出; when the time is up it says so and links to the login
// page with next= back here. htmx requests renew the session too, so they restart the clock.
//
// Drafts. A <form data-draft> keeps its values in sessionStorage (this tab only, gone when it closes; not
// localStorage: computers are shared), keyed by user + page + form. Never stored: passwords, files, hidden
// inputs (CSRF token, idempotency key, formset counters). Opening the page again (after logging in again)
// restores them and says so, with 丢弃草稿 to put back the page's own values. A submit marks the draft;
// the next page decides: the same page again (errors, an error page) or the login page (the session had
// expired: the login sends the user back here) keeps it, any other page (the submit went through) drops
// it. Logging out drops every draft; another user's drafts are dropped on sight.
(() => {
  "use strict";
  const PREFIX = "xueji:draft:";
  const clockEl = document.getElementById("session-clock");
  const cfg = clockEl ? clockEl.dataset : null;
  const user = cfg ? cfg.user : "";
  const here = location.pathname + location.search;

  let store = null;
  try {
    store = window.sessionStorage;
  } catch {
    store = null; // storage disabled: no drafts, the warning still works
  }

  // ------------------------------------------------------------------------------------------------
  // Draft storage
  // ------------------------------------------------------------------------------------------------
  function read(key) {
    try {
      return JSON.parse(store.getItem(key));
    } catch {
      return null;
    }
  }

  function write(key, value) {
    try {
      store.setItem(key, JSON.stringify(value));
    } catch {
      // quota exceeded or storage disabled: the page works without a draft
    }
  }

  function draftKeys() {
    const keys = [];
    for (let i = 0; store && i < store.length; i++) {
      const key = store.key(i);
      if (key && key.startsWith(PREFIX)) keys.push(key);
    }
    return keys;
  }

  let leaving = false; // logging out: nothing may be saved any more (a blur's pending save included)

  function dropAllDrafts() {
    leaving = true;
    for (const d of drafts.values()) clearTimeout(d.timer);
    for (const key of draftKeys()) store.removeItem(key);
  }

  // What the last submit came to, judged by the page it led to (see the header).
  // A draft may hold a child's ID number: it does not outlive the longest session (12 h, the absolute limit).
  const DRAFT_MAX_AGE_MS = 12 * 3600 * 1000;

  function tidyDrafts() {
    for (const key of draftKeys()) {
      const draft = read(key);
      if (!draft || typeof draft !== "object" || !(Date.now() - (draft.savedAt || 0) < DRAFT_MAX_AGE_MS)) {
        store.removeItem(key);
      } else if (!user) {
        if (draft.state === "submitted") write(key, { ...draft, state: "editing" });
      } else if (draft.user !== user) {
        store.removeItem(key);
      } else if (draft.state === "submitted") {
        if (draft.path === here) write(key, { ...draft, state: "editing" });
        else store.removeItem(key);
      }
    }
  }

  // ------------------------------------------------------------------------------------------------
  // Form values
  // ------------------------------------------------------------------------------------------------
  const SKIPPED_TYPES = new Set(["password", "file", "hidden", "submit", "button", "reset", "image"]);
  const FORMSET_COUNTERS = /-(TOTAL|INITIAL|MIN_NUM|MAX_NUM)_FORMS$/;
  const PER_RENDER = new Set(["csrfmiddlewaretoken", "idempotency_key"]);

  function kept(el) {
    if (!el.name || !/^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName)) return false;
    if (SKIPPED_TYPES.has(el.type) || PER_RENDER.has(el.name)) return false;
    if (/password|one-time-code/.test(el.getAttribute("autocomplete") || "")) return false;
    return !el.closest("[data-draft-skip]");
  }

  // The kept controls with a stable id each: name + position among controls of that name.
  function controls(form) {
    const seen = new Map();
    const out = [];
    for (const el of form.elements) {
      if (!kept(el)) continue;
      const n = seen.get(el.name) || 0;
      seen.set(el.name, n + 1);
      out.push({ el, id: `${el.name}#${n}` });
    }
    return out;
  }

  function valueOf(el) {
    if (el.type === "checkbox" || el.type === "radio") return el.checked;
    if (el.tagName === "SELECT" && el.multiple) return Array.from(el.selectedOptions, (o) => o.value);
    return el.value;
  }

  function setValue(el, value) {
    if (el.type === "checkbox" || el.type === "radio") {
      el.checked = Boolean(value);
    } else if (el.tagName === "SELECT" && el.multiple) {
      const chosen = new Set(Array.isArray(value) ? value : []);
      for (const o of el.options) o.selected = chosen.has(o.value);
    } else {
      el.value = String(value);
    }
  }

  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

  function snapshot(form) {
    const values = {};
    for (const { el, id } of controls(form)) values[id] = valueOf(el);
    return values;
  }

  // A draft belongs to this rendering of the form only if the form's hidden inputs (the student, the
  // target school, …) are the same; a short hash, so that they are not stored themselves.
  function context(form) {
    const parts = [];
    for (const el of form.elements) {
      if (el.type !== "hidden" || !el.name || PER_RENDER.has(el.name) || FORMSET_COUNTERS.test(el.name)) continue;
      parts.push(`${el.name}=${el.value}`);
    }
    let h = 0x811c9dc5;
    for (const ch of parts.join("\n")) {
      h ^= ch.codePointAt(0);
      h = Math.imul(h, 0x01000193);
    }
    return (h >>> 0).toString(16);
  }

  function formsetTotals(form) {
    const totals = {};
    for (const el of form.elements) {
      if (el.type === "hidden" && el.name.endsWith("-TOTAL_FORMS")) totals[el.name] = Number(el.value) || 0;
    }
    return totals;
  }

  // A draft with more formset rows than the page (rows added with htmx, e.g. the policy editor's 添加一行):
  // add rows with the form's own button, the one whose hx-include names the counter.
  async function growRows(form, totals) {
    for (const [name, wanted] of Object.entries(totals || {})) {
      const count = () => Number(form.elements.namedItem(name)?.value) || 0;
      const counter = form.elements.namedItem(name);
      if (!counter || !counter.id || !window.htmx) continue;
      const button = Array.from(form.querySelectorAll("[hx-include]")).find((b) =>
        b.getAttribute("hx-include").split(",").map((s) => s.trim()).includes(`#${counter.id}`),
      );
      if (!button) continue;
      for (let guard = 0; count() < wanted && guard < 100; guard++) {
        const before = count();
        button.click();
        const started = Date.now();
        while (count() <= before && Date.now() - started < 5000) {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        if (count() <= before) break; // the server refused (e.g. the maximum): restore what fits
      }
    }
  }

  // ------------------------------------------------------------------------------------------------
  // Drafts of the forms on this page
  // ------------------------------------------------------------------------------------------------
  const drafts = new Map(); // form -> {key, initial, timer, quiet}

  function saveDraft(form, state) {
    const d = drafts.get(form);
    if (!d || leaving) return;
    clearTimeout(d.timer);
    d.timer = 0;
    write(d.key, {
      v: 1,
      user,
      path: here,
      state: state || "editing",
      savedAt: Date.now(),
      ctx: context(form),
      totals: formsetTotals(form),
      fields: snapshot(form),
    });
  }

  function flushDrafts() {
    for (const [form, d] of drafts) if (d.timer) saveDraft(form);
  }

  function onEdit(event) {
    const form = event.target.form || event.target.closest?.("form");
    const d = form && drafts.get(form);
    if (!d || d.quiet) return;
    clearTimeout(d.timer);
    d.timer = setTimeout(() => saveDraft(form), 300);
  }

  function apply(form, values, reveal) {
    const d = drafts.get(form);
    d.quiet = true;
    try {
      for (const { el, id } of controls(form)) {
        if (!(id in values) || same(valueOf(el), values[id])) continue;
        setValue(el, values[id]);
        if (reveal) {
          const section = el.closest("details");
          if (section) section.open = true;
        }
        if (!el.hasAttribute("data-autosubmit")) {
          el.dispatchEvent(new Event("input", { bubbles: true }));
          el.dispatchEvent(new Event("change", { bubbles: true }));
        }
      }
    } finally {
      d.quiet = false;
    }
  }

  function showRestored(form, d, draft) {
    const tpl = document.getElementById("draft-restored-tpl");
    if (!tpl) return;
    const note = tpl.content.firstElementChild.cloneNode(true);
    const at = note.querySelector("[data-saved-at]");
    if (at) {
      const when = new Date(draft.savedAt || Date.now());
      at.dateTime = when.toISOString();
      at.textContent = when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    }
    note.querySelector("[data-draft-discard]").addEventListener("click", () => {
      store.removeItem(d.key);
      apply(form, d.initial, false);
      note.remove();
    });
    form.before(note);
  }

  async function restore(form) {
    const d = drafts.get(form);
    const draft = read(d.key);
    if (!draft || draft.user !== user || draft.ctx !== context(form) || !draft.fields) return;
    await growRows(form, draft.totals);
    const now = snapshot(form);
    const differs = Object.keys(draft.fields).some((id) => id in now && !same(now[id], draft.fields[id]));
    if (!differs) return; // the page already shows these values (e.g. re-rendered with errors)
    apply(form, draft.fields, true);
    showRestored(form, d, draft);
  }

  function startDrafts() {
    if (!store) return;
    tidyDrafts();
    if (!user) return;
    const forms = Array.from(document.querySelectorAll("form[data-draft]"));
    forms.forEach((form, i) => {
      const key = `${PREFIX}${user}:${here}#${form.dataset.draft || i}`;
      drafts.set(form, { key, initial: snapshot(form), timer: 0, quiet: false });
    });
    document.addEventListener("input", onEdit, true);
    document.addEventListener("change", onEdit, true);
    window.addEventListener("pagehide", flushDrafts);
    // After htmx has wired the page (its 添加一行 buttons), which it does when the document is ready.
    const go = () => setTimeout(() => forms.forEach((form) => restore(form)), 0);
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", go);
    else go();
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (cfg && new URL(form.action, location.href).pathname === cfg.logout) {
      dropAllDrafts();
    } else if (drafts.has(form) && !event.defaultPrevented) {
      saveDraft(form, "submitted");
    }
  });

  // ------------------------------------------------------------------------------------------------
  // The session clock
  // ------------------------------------------------------------------------------------------------
  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch {
      return "";
    }
  }

  function logOut() {
    dropAllDrafts();
    const existing = document.querySelector(`form[action="${cfg.logout}"]`);
    if (existing) {
      existing.requestSubmit();
      return;
    }
    const form = document.createElement("form");
    form.method = "post";
    form.action = cfg.logout;
    const token = document.createElement("input");
    token.type = "hidden";
    token.name = "csrfmiddlewaretoken";
    token.value = csrfToken();
    form.append(token);
    document.body.append(form);
    form.submit();
  }

  function startClock() {
    let warning = Number(cfg.warning) || 0;
    const idle = Number(cfg.idle) || 0;
    let deadline = 0; // local time (ms) at which the session ends if nothing happens
    let final = false; // the end is the absolute limit: requests do not move it
    let timer = 0;
    let ticker = 0;
    let banner = null;
    let over = false;

    // Right after the top bar: first in reading order; CSS places it (a toast on desktop, a bar on phones).
    function place(node) {
      const bar = document.querySelector("body > .topbar");
      if (bar) bar.after(node);
      else document.body.prepend(node);
    }

    function hide() {
      clearInterval(ticker);
      if (banner) banner.remove();
      banner = null;
    }

    function tick() {
      if (!banner) return;
      const left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
      const text = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
      for (const el of banner.querySelectorAll("[data-countdown]")) el.textContent = text;
    }

    function warn() {
      if (!banner || banner.dataset.kind !== "warning") {
        hide();
        const tpl = document.getElementById("session-warning-tpl");
        if (!tpl) return;
        banner = tpl.content.firstElementChild.cloneNode(true);
        banner.dataset.kind = "warning";
        banner.querySelector("[data-session-extend]").addEventListener("click", extend);
        banner.querySelector("[data-session-logout]").addEventListener("click", logOut);
        for (const b of banner.querySelectorAll("[data-countdown]")) b.setAttribute("aria-live", "off");
        tick();
        place(banner);
      }
      banner.querySelector('[data-when="idle"]').hidden = final;
      banner.querySelector('[data-when="final"]').hidden = !final;
      banner.querySelector("[data-session-extend]").hidden = final;
      tick();
      clearInterval(ticker);
      ticker = setInterval(tick, 1000);
    }

    function expired() {
      over = true;
      clearTimeout(timer);
      flushDrafts();
      hide();
      const tpl = document.getElementById("session-expired-tpl");
      if (!tpl) return;
      banner = tpl.content.firstElementChild.cloneNode(true);
      banner.dataset.kind = "expired";
      const login = banner.querySelector("[data-session-login]");
      login.href = `${cfg.login}?${new URLSearchParams({ reason: "timeout", next: here })}`;
      banner.querySelector("[data-if-draft]").hidden = drafts.size === 0;
      place(banner);
    }

    // c: {remaining, warning, final} in seconds, as the server answers.
    function plan(c) {
      if (over) return;
      warning = Number.isFinite(c.warning) ? c.warning : warning;
      final = Boolean(c.final);
      deadline = Date.now() + c.remaining * 1000;
      clearTimeout(timer);
      if (c.remaining > warning) {
        hide();
        timer = setTimeout(check, (c.remaining - warning) * 1000);
      } else {
        warn();
        // Ask again now and then (another tab may renew the session), and just after the end.
        timer = setTimeout(check, Math.min(15000, Math.max(500, c.remaining * 1000 + 250)));
      }
    }

    async function ask(url, init) {
      const response = await fetch(url, {
        credentials: "same-origin",
        redirect: "manual",
        cache: "no-store",
        ...init,
        headers: { Accept: "application/json", ...(init?.headers || {}) },
      });
      if (response.type === "opaqueredirect" || response.status === 401) return { active: false };
      if (!response.ok) throw new Error(String(response.status));
      return response.json();
    }

    async function check() {
      if (over) return;
      clearTimeout(timer);
      let c;
      try {
        c = await ask(cfg.status);
      } catch {
        timer = setTimeout(check, 15000); // offline or a server error: try again, warn on what we know
        if (deadline - Date.now() <= warning * 1000) warn();
        return;
      }
      if (c.active) plan(c);
      else expired();
    }

    async function extend(event) {
      const button = event.currentTarget;
      button.disabled = true;
      try {
        const c = await ask(cfg.keepalive, { method: "POST", headers: { "X-CSRFToken": csrfToken() } });
        if (c.active) {
          plan(c);
          return;
        }
        expired();
      } catch {
        check(); // e.g. a CSRF token rotated by a login in another tab: ask what the session is now
      } finally {
        button.disabled = false;
      }
    }

    // Any htmx request renewed the session.
    document.addEventListener("htmx:afterRequest", (event) => {
      if (over || !event.detail.successful) return;
      if (banner) {
        check();
      } else if (!final) {
        plan({ remaining: idle, warning, final: false });
      }
    });
    // Timers of a hidden tab are throttled: catch up when it is shown again.
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && !over && Date.now() >= deadline - warning * 1000) check();
    });

    plan({ remaining: Number(cfg.remaining) || 0, warning, final: "final" in cfg });
  }

  startDrafts();
  if (cfg) startClock();
})();
