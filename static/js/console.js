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
