// Small helpers shared by console pages; each page adds its own script.
(function () {
  "use strict";
  const meta = document.querySelector('meta[name="csrf-token"]');
  window.scrm = {
    csrf: meta ? meta.content : "",
    // fetch JSON with the session's CSRF token; throws an Error carrying the server's message.
    async api(url, options) {
      const opts = Object.assign({ headers: {} }, options || {});
      opts.headers = Object.assign({ "Accept": "application/json", "X-CSRFToken": window.scrm.csrf }, opts.headers);
      if (opts.body && typeof opts.body !== "string" && !(opts.body instanceof FormData)) {
        opts.body = JSON.stringify(opts.body);
        opts.headers["Content-Type"] = "application/json";
      }
      const resp = await fetch(url, opts);
      const text = await resp.text();
      let data = null;
      try { data = text ? JSON.parse(text) : null; } catch (e) { data = { detail: text }; }
      if (!resp.ok) {
        const err = new Error((data && (data.detail || data.error)) || resp.statusText);
        err.data = data; err.status = resp.status;
        throw err;
      }
      return data;
    },
    money(v) {
      const n = Number(v || 0);
      return "¥" + n.toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    },
  };
})();

// Behaviour declared in the markup (the Content-Security-Policy allows no inline script or handler):
// page strings from <script type="application/json" id="scrm-text">, and data-* attributes.
(function () {
  "use strict";
  // Read when a page script first asks: the JSON block comes after this file in the page.
  let strings = null;
  Object.defineProperty(window, "scrmText", {
    configurable: true,
    get() {
      if (strings === null) {
        const el = document.getElementById("scrm-text");
        try { strings = el ? JSON.parse(el.textContent) : {}; } catch (e) { strings = {}; }
      }
      return strings;
    },
  });
  document.addEventListener("click", (e) => {
    const toggle = e.target.closest("[data-toggle-body]");
    if (toggle) document.body.classList.toggle(toggle.dataset.toggleBody);
    const closest = e.target.closest("[data-toggle-closest]");
    if (closest) {
      const target = closest.closest(closest.dataset.toggleClosest);
      if (target) target.classList.toggle(closest.dataset.toggleClass);
    }
    if (e.target.closest("[data-print]")) window.print();
    const copy = e.target.closest("[data-copy]");
    if (copy && navigator.clipboard) {
      navigator.clipboard.writeText(copy.dataset.copy).then(() => {
        const label = copy.textContent;
        copy.textContent = copy.dataset.done || label;
        setTimeout(() => { copy.textContent = label; }, 1500);
      });
    }
  });
  document.addEventListener("change", (e) => {
    const select = e.target.closest("[data-autosubmit]");
    if (select && select.form) select.form.submit();
  });
})();
