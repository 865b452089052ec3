// Inside WeCom's chat toolbar: ask the JS-SDK who the customer in this chat is and open them.
// Outside WeCom (an ordinary browser) nothing happens: staff search instead.
(function () {
  "use strict";
  var script = document.currentScript;
  var params = new URLSearchParams(window.location.search);
  var insideWeCom = /wxwork/i.test(navigator.userAgent);
  if (!insideWeCom || !window.ww || params.get("external_userid") || params.get("customer") || params.get("q")) {
    return;
  }
  var note = document.querySelector("[data-testid=sidebar-bridge]");
  function say(text) {
    if (note) {
      note.textContent = text;
      note.hidden = false;
    }
  }
  var signed = {};
  function signatures(url) {
    if (!signed[url]) {
      var endpoint = script.dataset.signatureUrl + "?url=" + encodeURIComponent(url);
      signed[url] = fetch(endpoint, { credentials: "same-origin" }).then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) {
            throw new Error(body.error || response.status);
          }
          return body;
        });
      });
    }
    return signed[url];
  }
  say(script.dataset.textFinding);
  var page = window.location.href.split("#")[0];
  signatures(page)
    .then(function (cfg) {
      window.ww.register({
        corpId: cfg.corpId,
        agentId: cfg.agentId,
        jsApiList: cfg.jsApiList,
        getConfigSignature: function (url) {
          return signatures(url).then(function (c) { return c.config; });
        },
        getAgentConfigSignature: function (url) {
          return signatures(url).then(function (c) { return c.agentConfig; });
        },
      });
      return window.ww.getCurExternalContact();
    })
    .then(function (result) {
      var next = new URLSearchParams({ external_userid: result.userId });
      window.location.replace(window.location.pathname + "?" + next.toString());
    })
    .catch(function (error) {
      say(script.dataset.textFailed.replace("%s", (error && (error.errMsg || error.message)) || error));
    });
})();
